"""Untrusted Markdown to safe HTML: CommonMark rendering, then an allow-list sanitiser.

Rendering costs CPU in proportion to the markup, and markdown-it's cost on some
input is superlinear (``"![" * 99000`` takes seconds). So every rendering runs
against a budget of this thread's CPU time, checked from inside the parser:
a body whose rendering exceeds its budget (render_budget_ms) is refused when written
(``check_render_cost``, called by the request schemas), and a stored body that
exceeds the much larger READ_BUDGET_MS when read (only a store written before
the budget existed can hold one) is shown as escaped plain text instead.
Rendered HTML is kept in a cache bounded by bytes (MARKDOWN_CACHE_BYTES).
"""

from __future__ import annotations

import html as html_escape
import re
import sys
import threading
import time
from collections import OrderedDict
from typing import Any

import nh3
from markdown_it import MarkdownIt

RENDER_BUDGET_MS = 50  # a body must render within this (CPU time) to be accepted,
RENDER_MS_PER_10K = 10  # and this much more per 10,000 characters (render_budget_ms)
RENDER_ATTEMPTS = 3  # a costly body exceeds the budget every time, a pause once
# Past this a stored body is shown as text: twice the write budget of the
# longest body (200,000 characters: 250 ms), so never one accepted under it.
READ_BUDGET_MS = 10 * RENDER_BUDGET_MS
MARKDOWN_CACHE_BYTES = 16 * 1024 * 1024
_CHECK_EVERY = 16  # parser steps between two looks at the clock

# No h1: the statement's title is its page's one h1 (a body's "#" is an h2).
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

# Characters XML 1.0 forbids: feeds built with lxml refuse them outright.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def strip_xml_illegal(text: str, replacement: str = "") -> str:
    """Removes (or replaces) the characters that cannot appear in an XML
    document: control characters, NUL among them, U+FFFE and U+FFFF."""
    return _XML_ILLEGAL.sub(replacement, text)


class RenderBudgetExceeded(Exception):
    """Rendering a body took more CPU time than it was allowed."""


_DEADLINE = "pressfeed_deadline"
_NEVER = float("inf")
_STEPS = "pressfeed_steps"


def _watch(env: Any) -> None:
    steps = env[_STEPS] = env.get(_STEPS, 0) + 1
    if steps % _CHECK_EVERY == 0 and time.thread_time() > env.get(_DEADLINE, _NEVER):
        raise RenderBudgetExceeded


def _inline_watch(state: Any, silent: bool) -> bool:
    """First inline rule: called at every position the inline parser tries,
    lookahead included (where the superlinear cost lies); matches nothing."""
    _watch(state.env)
    return False


def _block_watch(state: Any, start: int, end: int, silent: bool) -> bool:
    """First block rule: called for every block the parser tries, and for each
    line of a paragraph, list, quote or table; matches nothing."""
    _watch(state.env)
    return False


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_markdown.inline.ruler.before("text", "pressfeed_budget", _inline_watch)
# As a terminator of paragraphs, lists and quotes too, so that it is also
# called for each line inside them (and for each row of a table).
_markdown.block.ruler.before(
    "table",
    "pressfeed_budget",
    _block_watch,
    {"alt": ["paragraph", "reference", "blockquote", "list"]},
)


# Interviews and replies to media questions: a paragraph may open with a label
# ("Question:", "Q.:", "Answer:", "A:", "Foreign Minister (in English):"; in
# French "Question :", "Réponse :", "R. :", with the space French puts before
# a colon; in Russian "Вопрос:", "Ответ:" and their initials), optionally in
# bold. The body is rendered as questions and answers only when
# it has at least one question label AND at least one answer or speaker label
# (each opening a top-level paragraph), so that ordinary prose opening with
# "Note:" or "Paris:" is never taken for an interview.
QUESTION, ANSWER = "question", "answer"
_QUALIFIER = r"(?:\s*\([^()\n]{1,40}\))?"  # "(in English)"
CYRILLIC_VE, CYRILLIC_O = "\u0412", "\u041e"  # the Russian initials, Ve and O
_QUESTIONS = rf"Question|Q\.?|Вопрос|{CYRILLIC_VE}\.?"
_ANSWERS = rf"Answer|A\.?|Réponse|R\.?|Ответ|{CYRILLIC_O}\.?"
_QUESTION_LABEL = re.compile(rf"(?:{_QUESTIONS}){_QUALIFIER}")
_ANSWER_LABEL = re.compile(rf"(?:{_ANSWERS}){_QUALIFIER}")
_BEFORE_COLON = "[ \u00a0\u202f]?"  # French: a (narrow) no-break space, or a space
_SPEAKER_LABEL = re.compile(
    rf"[^\W\d_][\w.'\u2019-]*(?: [^\W\d_][\w.'\u2019-]*){{0,4}}{_QUALIFIER}"
)
# A label at the start of a paragraph's source: optional bold around the
# label, with the colon inside or outside it, then a space.
_LABEL = re.compile(
    r"(?P<bold>\*\*|__)?(?P<label>[^\s:*_][^:*_\n]{0,79}?)"
    rf"{_BEFORE_COLON}(?:(?P=bold))?{_BEFORE_COLON}:(?:(?P=bold))?(?=\s)"
)
# An answer label inside a paragraph that opened with a question: the reply
# given in one paragraph, split in two before it.
_INLINE_ANSWER = re.compile(
    rf"(?<=\S)[ \t]+(?=(?:\*\*|__)?(?:{_ANSWERS}){_QUALIFIER}"
    rf"{_BEFORE_COLON}(?:\*\*|__)?{_BEFORE_COLON}:(?:\*\*|__)?\s)"
)


# A quick look for a question label before the paragraphs are examined.
_MAY_HAVE_QUESTION = re.compile(rf"(?:^|\n)[ \t]*(?:\*\*|__)?[Q{CYRILLIC_VE}]")


def label_of(paragraph: str) -> tuple[str, str] | None:
    """(role, label) when a paragraph opens with a Q&A label: role is question,
    answer, or speaker (a name, which answers only in a body with questions)."""
    match = _LABEL.match(paragraph)
    if match is None:
        return None
    label = match.group("label")
    if _QUESTION_LABEL.fullmatch(label):
        return QUESTION, label
    if _ANSWER_LABEL.fullmatch(label):
        return ANSWER, label
    if _SPEAKER_LABEL.fullmatch(label) and label[0].isupper():
        return "speaker", label
    return None


def _split_one_paragraph_replies(body: str) -> str:
    """ "Question: ... Answer: ..." in one paragraph becomes two paragraphs."""
    paragraphs = re.split(r"(\n[ \t]*\n)", body)
    for index in range(0, len(paragraphs), 2):
        labelled = label_of(paragraphs[index])
        if labelled and labelled[0] == QUESTION:
            paragraphs[index] = _INLINE_ANSWER.sub("\n\n", paragraphs[index], count=1)
    return "".join(paragraphs)


def _mark_questions_and_answers(tokens: list[Any]) -> None:
    """Gives the top-level paragraphs of an interview their class and puts each
    label in <strong>, when the body follows the convention (see QUESTION)."""
    paragraphs = [
        (tokens[i], tokens[i + 1])
        for i, token in enumerate(tokens[:-1])
        if token.type == "paragraph_open" and token.level == 0
    ]
    labels = [label_of(inline.content) for _, inline in paragraphs]
    roles = {labelled[0] for labelled in labels if labelled}
    if QUESTION not in roles or not roles & {ANSWER, "speaker"}:
        return
    current: str | None = None  # an unlabelled paragraph continues the last one
    for (opening, inline), labelled in zip(paragraphs, labels, strict=True):
        if labelled:
            current = QUESTION if labelled[0] == QUESTION else ANSWER
            _embolden_label(inline)
        if current:
            opening.attrSet("class", current)


def _embolden_label(inline: Any) -> None:
    """Wraps a paragraph's opening label (up to its colon) in <strong>, unless
    the source already made it bold."""
    children = inline.children or []
    if not children or children[0].type != "text":
        return
    leading = 0
    while leading < len(children) and children[leading].type == "text":
        leading += 1
    text = "".join(child.content for child in children[:leading])
    label, colon, rest = text.partition(":")
    if not colon:
        return
    template = children[0]
    strong_open = template.copy(type="strong_open", tag="strong", nesting=1, content="")
    strong_text = template.copy(content=label + colon)
    strong_close = template.copy(
        type="strong_close", tag="strong", nesting=-1, content=""
    )
    inline.children = [
        strong_open,
        strong_text,
        strong_close,
        template.copy(content=rest),
        *children[leading:],
    ]


def _under_the_title(tokens: list[Any]) -> None:
    """A body's headings sit under the statement's title, its page's h1: "#"
    is an h2, "##" an h3, and so on (h6 stays h6)."""
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


def _render(body: str, budget_ms: float) -> tuple[str, float]:
    """Sanitised HTML and the CPU milliseconds it took; RenderBudgetExceeded
    as soon as the budget is spent."""
    started = time.thread_time()
    env = {_DEADLINE: started + budget_ms / 1000}
    source = strip_xml_illegal(body)
    # The pattern needs a Q: looking for one first is a fast scan of most bodies.
    may_ask = "Q" in source or CYRILLIC_VE in source
    interview = may_ask and _MAY_HAVE_QUESTION.search(source) is not None
    if interview:
        source = _split_one_paragraph_replies(source)
    tokens = _markdown.parse(source, env)
    if time.thread_time() > env[_DEADLINE]:
        raise RenderBudgetExceeded
    if interview:
        _mark_questions_and_answers(tokens)
    _under_the_title(tokens)
    html = _markdown.renderer.render(tokens, _markdown.options, env)
    safe = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes={"p": {QUESTION, ANSWER}},
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )
    elapsed_ms = (time.thread_time() - started) * 1000
    if elapsed_ms > budget_ms:
        raise RenderBudgetExceeded
    return safe, elapsed_ms


# The first rendering in a process compiles patterns and imports modules:
# done here, so that it is not counted against the first body written.
_render(
    "# T\n\n*a* **b** `c` [d](https://e.example/) ![f](g) <https://h.example> "
    "&amp; \\* x  \ny\n\n- i\n1. j\n\n> k\n\n| l |\n|---|\n| m |\n\n```\nn\n```\n",
    _NEVER,
)


def plain_text_html(body: str) -> str:
    """A body as escaped paragraphs, without its markup."""
    paragraphs = re.split(r"\n\s*\n", strip_xml_illegal(body).strip())
    return "\n".join(
        f"<p>{html_escape.escape(p, quote=False)}</p>" for p in paragraphs if p
    )


_FIRST_PARAGRAPH = re.compile(r"<p\b[^>]*>(.*?)</p>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def first_paragraph_text(body_html: str) -> str:
    """The first paragraph of rendered HTML (or all of it, if it has no
    paragraph) as plain text on one line."""
    match = _FIRST_PARAGRAPH.search(body_html)
    fragment = match.group(1) if match else body_html
    fragment = re.sub(r"<br\b[^>]*>", " ", fragment)
    text = html_escape.unescape(_TAG.sub("", fragment))
    return " ".join(text.split())


class MarkdownCache:
    """Rendered HTML per body, least recently used first out, bounded by the
    bytes the bodies and their HTML occupy (not by count: one body's HTML can
    weigh megabytes)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, body: str) -> str | None:
        with self._lock:
            hit = self._entries.get(body)
            if hit is None:
                return None
            self._entries.move_to_end(body)
            return hit[0]

    def put(self, body: str, html: str) -> None:
        size = sys.getsizeof(body) + sys.getsizeof(html)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(body, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[body] = (html, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    @property
    def size_in_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


markdown_cache = MarkdownCache(MARKDOWN_CACHE_BYTES)


def render_budget_ms(body: str) -> int:
    """The CPU time a body's rendering may take to be accepted. Ordinary text
    costs in proportion to its length (65,000 characters of plain words took
    35 ms on this project's 2-core machine, and more than 50 under a full test
    run); pathological markup grows faster and takes seconds."""
    return RENDER_BUDGET_MS + RENDER_MS_PER_10K * len(body) // 10_000


def check_render_cost(body: str) -> str:
    """The body, if its rendering fits its budget of CPU time (its HTML is
    then cached for the answer and the first readers); ValueError naming the
    limit otherwise. The attempt stops as soon as the budget is spent."""
    if markdown_cache.get(body) is not None:
        return body
    for _ in range(RENDER_ATTEMPTS):
        try:
            html, _ = _render(body, render_budget_ms(body))
        except RenderBudgetExceeded:
            continue  # a pause (garbage collection) can spend one budget
        markdown_cache.put(body, html)
        return body
    raise ValueError(
        f"the body's Markdown takes more than {render_budget_ms(body)} ms to render "
        "(the limit on rendering cost): use less markup, or split the text"
    )


_rendering: dict[str, threading.Event] = {}  # bodies being rendered, by body
_rendering_lock = threading.Lock()


def markdown_to_html(body: str) -> str:
    """Renders a statement body (CommonMark) to sanitised HTML, cached; threads
    asking for a body another is rendering wait for it. A body that takes more
    than READ_BUDGET_MS (never one accepted under its write budget) is shown as
    escaped plain text."""
    cached = markdown_cache.get(body)
    if cached is not None:
        return cached
    with _rendering_lock:
        waiting = _rendering.get(body)
        if waiting is None:
            done = _rendering[body] = threading.Event()
    if waiting is not None:
        waiting.wait()
        cached = markdown_cache.get(body)
        return cached if cached is not None else _bounded_html(body)
    try:
        html = _bounded_html(body)
        markdown_cache.put(body, html)
        return html
    finally:
        with _rendering_lock:
            del _rendering[body]
        done.set()


def _bounded_html(body: str) -> str:
    try:
        return _render(body, READ_BUDGET_MS)[0]
    except RenderBudgetExceeded:
        return plain_text_html(body)
