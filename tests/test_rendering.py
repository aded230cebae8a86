"""Rendering cost is bounded: costly Markdown is refused when written and
shown as text when an older store holds it; rendered HTML is cached within a
byte budget."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from pressfeed import rendering
from pressfeed.rendering import (
    MARKDOWN_CACHE_BYTES,
    READ_BUDGET_MS,
    check_render_cost,
    markdown_to_html,
    render_budget_ms,
)

# The reproductions of the robustness issue: seconds each, unbounded.
PATHOLOGICAL = {
    "images": "![" * 99000,
    "links": "[a](b)" * 33000,
    "brackets": "[" * 100000,
}


@pytest.fixture(autouse=True)
def cold_cache():
    rendering.markdown_cache.clear()
    yield
    rendering.markdown_cache.clear()


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_a_body_over_the_budget_is_refused_quickly_naming_the_limit(name):
    started = time.perf_counter()
    budget = render_budget_ms(PATHOLOGICAL[name])
    with pytest.raises(ValueError, match=f"more than {budget} ms"):
        check_render_cost(PATHOLOGICAL[name])
    assert time.perf_counter() - started < 1.0  # the attempt stops at the budget


def test_long_ordinary_text_is_accepted():
    paragraph = (
        "The minister said that the talks, which began on Monday in Geneva, "
        "would continue until an agreement is reached (including **trade**).\n\n"
    )
    body = (paragraph * 300)[:40_000]  # about 20 ms on a 2-core Xeon, idle
    assert check_render_cost(body) == body
    assert "<strong>trade</strong>" in markdown_to_html(body)


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_reading_a_stored_costly_body_is_bounded_and_shows_its_text(name):
    """A store written before the budget can hold such bodies: a reader gets
    them as escaped text, within the read budget, not after seconds."""
    started = time.perf_counter()
    html = markdown_to_html(PATHOLOGICAL[name])
    assert time.perf_counter() - started < 1.5
    assert html.startswith("<p>") and "<a" not in html and "<img" not in html
    assert markdown_to_html(PATHOLOGICAL[name]) == html  # cached


def test_the_markdown_cache_is_bounded_by_bytes():
    """Before: lru_cache(maxsize=512) held 512 bodies whatever their size (120
    drafts of large bodies grew a server from 172 to 458 MiB)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100):  # 100 bodies of 200,000 characters: 40 MB of text and HTML
            markdown_to_html(f"Statement {n}. " + "Lorem ipsum dolor sit amet. " * 7000)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < MARKDOWN_CACHE_BYTES * 1.2


# Interviews and replies to media questions in Q&A form

INTERVIEW = """Question (in English): After your meeting with the Secretary of State, \
how would you evaluate the relationship?

Foreign Minister (in English): The relations are at a very difficult point, and \
both sides know it.

Question: Are the parties considering a meeting at the top level?

Foreign Minister: The presidents met on the sidelines of the summit and may meet \
again in November."""


def paragraphs_of(html: str) -> list[tuple[str | None, str]]:
    import lxml.html

    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    return [(p.get("class"), p.findtext("strong")) for p in tree.iter("p")]


def test_an_interview_imported_as_plain_text_comes_out_as_questions_and_answers():
    assert paragraphs_of(markdown_to_html(INTERVIEW)) == [
        ("question", "Question (in English):"),
        ("answer", "Foreign Minister (in English):"),
        ("question", "Question:"),
        ("answer", "Foreign Minister:"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        "Question: How would you comment on the new visa rules? "
        "Answer: We have taken note of them.",
        "Question: How would you comment on the new visa rules?\n\n"
        "Answer: We have taken note of them.",
        "Q.: How would you comment on the new visa rules? A.: We have taken note.",
        "**Q:** How would you comment on the new visa rules?\n\n**A:** Noted.",
    ],
)
def test_a_reply_to_a_media_question_in_one_paragraph_or_two(body):
    [question, answer] = paragraphs_of(markdown_to_html(body))
    assert question[0] == "question" and question[1].startswith("Q")
    assert answer[0] == "answer" and answer[1].startswith("A")


def test_an_answer_going_on_over_several_paragraphs_stays_an_answer():
    html = markdown_to_html("Q: Why?\n\nA: Because.\n\nAnd also this.")
    assert [c for c, _ in paragraphs_of(html)] == ["question", "answer", "answer"]


@pytest.mark.parametrize(
    "body",
    [
        "Note: the consulate is closed on Monday.\n\nParis: the fair opens.",
        "Answer: without any question this is prose.",
        "Question: a question alone is a heading of prose.",
        "Moscow: talks continued.\n\nLondon: no comment.",
        "- Question: in a list\n- Answer: stays a list",
    ],
)
def test_prose_that_does_not_follow_the_convention_renders_as_before(body):
    html = markdown_to_html(body)
    assert 'class="' not in html
    assert "<strong>" not in html


def test_labels_are_escaped_and_the_output_still_sanitised():
    html = markdown_to_html(
        'Q.: <img src=x onerror="alert(1)"> Really?\n\n'
        "A.: <script>alert(1)</script> [x](javascript:alert(1))"
    )
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html
    assert paragraphs_of(html) == [("question", "Q.:"), ("answer", "A.:")]


def test_raw_html_cannot_give_a_paragraph_a_class():
    html = markdown_to_html('<p class="question">x</p>\n\n<p class="evil">y</p>')
    assert paragraphs_of(html) == [(None, None), (None, None)]


@pytest.mark.parametrize(
    ("body", "labels"),
    [
        (
            "Question : Comment commentez-vous les nouvelles règles ?\n\n"
            "Réponse : Nous en avons pris note.",
            [("question", "Question :"), ("answer", "Réponse :")],
        ),
        (
            "**Question\u202f:** Comment ?\n\n**Ambassadrice\u00a0:** Ainsi.",
            [("question", "Question\u202f:"), ("answer", "Ambassadrice\u00a0:")],
        ),
        (
            "Q. : Pourquoi ? R. : Parce que.",
            [("question", "Q. :"), ("answer", "R. :")],
        ),
        (
            "Вопрос: Как вы прокомментируете новые правила?\n\n"
            "Ответ: Мы приняли их к сведению.",
            [("question", "Вопрос:"), ("answer", "Ответ:")],
        ),
        (
            "\u0412.: Почему? \u041e.: Потому что.",  # the initials Ve and O
            [("question", "\u0412.:"), ("answer", "\u041e.:")],
        ),
    ],
)
def test_interviews_in_french_and_russian_come_out_as_questions_and_answers(
    body, labels
):
    assert paragraphs_of(markdown_to_html(body)) == labels


def test_a_bodys_headings_sit_under_the_statements_title():
    html = markdown_to_html("# Background\n\n## Details\n\n###### Deep\n\n<h1>Raw</h1>")
    assert "<h2>Background</h2>" in html and "<h3>Details</h3>" in html
    assert "<h6>Deep</h6>" in html
    assert "<h1" not in html and "Raw" in html


def test_the_budget_grows_with_the_length_and_stays_under_the_read_budget():
    """Ordinary text costs in proportion to its length: a fixed 50 ms refused
    65,000 characters of plain words at random on a busy machine."""
    assert render_budget_ms("x" * 1_000) == 51
    assert render_budget_ms("x" * 65_000) == 115
    assert render_budget_ms("x" * 200_000) * 2 == READ_BUDGET_MS
