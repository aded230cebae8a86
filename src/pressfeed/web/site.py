"""The public web site: front page, all messages, one statement. No JavaScript."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, g, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.http import http_date

from pressfeed.aggregates import PUBLISHED, Statement
from pressfeed.projections.catalogue import (
    MessageFilter,
    group_stamp,
    latest_public,
    message_page,
    public_statement,
    public_translations,
)
from pressfeed.projections.front_page import featured_statement
from pressfeed.projections.search import MARK_END, MARK_START, parse_query, search
from pressfeed.representation import (
    StatementDocument,
    is_withdrawn,
    public_notes,
    statement_document,
    teaser,
)
from pressfeed.schemas import SPEAKER_MAX_LENGTH
from pressfeed.times import parse_http_date
from pressfeed.urls import (
    absolute,
    front_page_path,
    messages_path,
    search_path,
    statement_path,
    statement_version_path,
    with_query,
)
from pressfeed.web.caching import (
    Rendered,
    conditional_response,
    last_modified,
    public_cache_control,
    rendered,
)
from pressfeed.web.context import rendered_cache, services, views_position
from pressfeed.web.languages import list_language, page_language
from pressfeed.web.problems import ProblemError

bp = Blueprint("site", __name__)

PAGE_SIZE = 20
LATEST_COUNT = 10
HTML = "text/html; charset=utf-8"
PAGE_CACHE = public_cache_control(30)
PAGE_NUMBER = re.compile(r"[0-9]{1,6}")


@bp.get("/")
@bp.get("/<lang:lang>/")
def front_page(lang: str = "") -> Response:
    """Today's date and clocks, contact, the featured statement (or else the
    newest) in full, then the latest as teasers."""
    # The clocks show the minute: every rendering within it is the same bytes
    # (and ETag), however often a draft or a schedule moves the views.
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    minute_ends = (math.floor(time.time() / 60) + 1) * 60
    page_language(lang)
    listed = list_language(lang)

    def render() -> Rendered:
        views = services().views
        featured = featured_statement(views)
        if featured is not None and listed and featured["language"] != listed:
            featured = None  # featured on the front page of its own language
        documents = latest_public(views, limit=LATEST_COUNT + 1, language=listed)
        current = [d for d in documents if d["status"] == PUBLISHED]
        first = featured or (current[0] if current else None)
        latest = [d for d in current if first is None or d["id"] != first["id"]]
        body = render_template(
            "front.html",
            now=minute,
            clocks=services().settings.clocks,
            newest=first,
            latest=[(d, teaser(d)) for d in latest[:LATEST_COUNT]],
        )
        modified = max(minute, services().views.public_stamp())
        return rendered(body.encode(), modified, minute_ends)

    item = cached(f"page:{front_page_path(lang)}:{int(minute_ends)}", render)
    return conditional_response(item, HTML, PAGE_CACHE)


@bp.get("/messages")
@bp.get("/<lang:lang>/messages")
def messages(lang: str = "") -> Response:
    """All messages, newest first, 20 a page; filtered by kind, year, month and
    speaker (combinable), with the counts per kind and per year as links."""
    page = page_number()
    chosen = message_filters()
    views = services().views
    page_language(lang)
    listed = list_language(lang)

    def render() -> Rendered:
        found = chosen.as_filter(services().settings.timezone, listed)
        listing = message_page(
            views, found, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        pages = max(1, math.ceil(listing.total / PAGE_SIZE))
        if page > pages:
            abort(404)
        # Its links to itself (one per kind, year and listed statement) are
        # made from its path, built once: at a million statements over a
        # century, url_for for each year link was a sixth of the page's cost.
        path = url_for("site.messages", lang=lang) if lang else url_for("site.messages")
        messages_url = with_query(path)
        years = [
            (year, count, messages_url(**chosen.args(year=year, month=None)))
            for year, count in listing.years
        ]
        body = render_template(
            "messages.html",
            documents=listing.documents,
            page=page,
            pages=pages,
            total=listing.total,
            chosen=chosen,
            kinds=listing.kinds,
            years=years,
            messages_url=messages_url,
        )
        return rendered(body.encode(), views.public_stamp())

    item = cached(f"page:{messages_path(lang)}:{page}:{chosen.key}", render)
    return conditional_response(item, HTML, PAGE_CACHE)


@bp.get("/search")
@bp.get("/<lang:lang>/search")
def search_page(lang: str = "") -> Response:
    """Full-text search of the public statements (of every language, in the
    prefix's interface), best match first, 20 a page (of the newest
    CANDIDATES matches when more match)."""
    page = page_number()
    query = parse_query(request.args.get("q", ""))
    views = services().views
    page_language(lang)

    def render() -> Rendered:
        found = search(views, query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        pages = max(1, math.ceil(found.total / PAGE_SIZE))
        if page > pages:
            abort(404)
        body = render_template(
            "search.html",
            query=query,
            hits=[(hit.document, marked_snippet(hit.snippet)) for hit in found.hits],
            total=found.total,
            exact=found.exact,
            page=page,
            pages=pages,
        )
        return rendered(body.encode(), views.public_stamp())

    item = cached(f"page:{search_path(lang)}:{page}:{query.text}", render)
    return conditional_response(item, HTML, PAGE_CACHE)


_MARKUP = re.compile(r"[*_`#]+|\\")
# A link's or an image's target, whole or cut by the snippet's end, and the
# bracket opening its text (which stays); a bracket of prose stays too.
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)?|!?\[(?=[^\[\]\n]*\]\()")
# A quote, list item or numbered item's mark at the start of a line.
_LINE_MARK = re.compile(r"(?:^|\n)[ \t]*(?:>[ \t>]*|[-+*][ \t]+|[0-9]{1,9}[.)][ \t]+)")
# Marks that combine with the letter before them: kept inside its <mark>.
_COMBINING_AFTER_MARK = re.compile(
    f"{MARK_END}([\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+)"
)


def marked_snippet(snippet: str) -> Markup:
    """A snippet as safe HTML: its text escaped (Markdown's marks, link targets
    and line marks left out), the matched words in <mark>."""
    plain = _LINE_MARK.sub(" ", _LINK_TARGET.sub("", snippet))
    plain = _COMBINING_AFTER_MARK.sub(lambda m: m.group(1) + MARK_END, plain)
    text = str(escape(" ".join(_MARKUP.sub("", plain).split())))
    if text.count(MARK_START) != text.count(MARK_END):
        text = text.replace(MARK_START, "").replace(MARK_END, "")
    return Markup(text.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


@dataclass(frozen=True)
class ChosenFilters:
    """The filters of /messages as the query string gave them."""

    kind: str | None = None
    year: int | None = None
    month: int | None = None
    speaker: str | None = None

    @property
    def key(self) -> str:
        return json.dumps([self.kind, self.year, self.month, self.speaker])

    def args(self, **changes: object) -> dict[str, object]:
        """The query arguments of these filters with some changed (None: left out)."""
        values = {**vars(self), **changes}
        return {name: value for name, value in values.items() if value is not None}

    def as_filter(self, zone: ZoneInfo, language: str | None = None) -> MessageFilter:
        return MessageFilter(
            zone, language, self.kind, self.speaker, self.year, self.month
        )


YEAR = re.compile(r"(19|[2-8][0-9])[0-9]{2}")
MONTH = re.compile(r"0?[1-9]|1[0-2]")


def message_filters() -> ChosenFilters:
    """kind, year, month and speaker from the query string; 400 bad-filter for a
    value no statement could have."""
    args = request.args
    kind = args.get("kind") or None
    speaker = " ".join((args.get("speaker") or "").split()) or None
    year, month = args.get("year") or None, args.get("month") or None
    if kind is not None and kind not in services().settings.kinds:
        raise ProblemError("bad-filter", f"Unknown kind {kind[:40]!r}.")
    if speaker is not None and len(speaker) > SPEAKER_MAX_LENGTH:
        raise ProblemError("bad-filter", "A speaker has at most 100 characters.")
    if year is not None and not YEAR.fullmatch(year):
        raise ProblemError("bad-filter", "year is a year from 1900 to 8999.")
    if month is not None and (year is None or not MONTH.fullmatch(month)):
        raise ProblemError("bad-filter", "month is 1 to 12, given with a year.")
    return ChosenFilters(
        kind, int(year) if year else None, int(month) if month else None, speaker
    )


@bp.get("/statements/<slug>")
def statement(slug: str) -> Response:
    """A published statement with its change notes; 410 once withdrawn.

    Also a Memento TimeGate (RFC 7089): with Accept-Datetime, the state that was
    public at that time.
    """
    if "Accept-Datetime" in request.headers:
        return memento(slug, request.headers["Accept-Datetime"])
    response = current_statement(slug)
    response.vary.add("Accept-Datetime")
    response.headers["Link"] = f'<{original_url(slug)}>; rel="original timegate"'
    return response


@bp.get("/statements/<slug>/versions/<int:version>")
def public_version(slug: str, version: int) -> Response:
    """A version as it was published; never a draft, never a withdrawn text."""
    document = withdrawn_or_public(slug)
    if is_withdrawn(document):
        return withdrawn_page(document)
    statement = services().audit.public_version(UUID(document["id"]), version)
    return memento_page(slug, statement, statement.modified_on)


def memento(slug: str, header: str) -> Response:
    moment = parse_http_date(header)
    if moment is None:
        raise ProblemError(
            "bad-accept-datetime",
            "Accept-Datetime is an HTTP date, e.g. Tue, 20 Mar 2001 20:35:00 GMT.",
        )
    document = withdrawn_or_public(slug)
    if is_withdrawn(document):
        return withdrawn_page(document)
    # An HTTP date names a whole second, as a Memento-Datetime does: the
    # state at its end, so that a version's own Memento-Datetime finds it.
    moment += timedelta(seconds=1, microseconds=-1)
    statement, since = services().audit.public_as_of(UUID(document["id"]), moment)
    response = memento_page(slug, statement, since)
    response.vary.add("Accept-Datetime")
    # The memento's own URI (RFC 7089).
    response.headers["Content-Location"] = statement_version_path(
        slug, statement.version
    )
    return response


def memento_page(slug: str, statement: Statement, since: datetime) -> Response:
    document = statement_document(statement)
    g.page_language = document["language"]
    body = render_template(
        "statement.html",
        statement=document,
        notes=public_notes(document),
        memento_of=since,
        translations=public_translations(services().views, document),
    )
    response = Response(body, content_type=HTML)
    response.headers["Memento-Datetime"] = http_date(since)
    response.headers["Link"] = f'<{original_url(slug)}>; rel="original timegate"'
    return response


def withdrawn_or_public(slug: str) -> StatementDocument:
    document = public_statement(services().views, slug)
    if document is None:
        abort(404)
    return document


def withdrawn_page(document: StatementDocument) -> Response:
    g.page_language = document["language"]
    body = render_template(
        "withdrawn.html", statement=document, notes=[], translations=[]
    )
    return Response(body, status=410, content_type=HTML)


def original_url(slug: str) -> str:
    return absolute(services().settings.base_url, statement_path(slug))


def current_statement(slug: str) -> Response:
    views = services().views

    def render() -> Rendered:
        document = public_statement(views, slug)
        if document is None:
            abort(404)
        gone = is_withdrawn(document)
        template = "withdrawn.html" if gone else "statement.html"
        g.page_language = document["language"]
        translations = [] if gone else public_translations(views, document)
        body = render_template(
            template,
            statement=document,
            notes=public_notes(document),
            translations=translations,
        )
        # A translation published later changes the page (its links) too, and
        # so does one withdrawn or unlinked, which leaves no row to date it
        # by: a page of a group moves with each change of it readers see.
        stamp = last_modified([document, *translations])
        if group := document.get("translation_group"):
            stamp = max(stamp, group_stamp(views, group) or stamp)
        return rendered(body.encode(), stamp, status=410 if gone else 200)

    item = cached(f"page:/statements/{slug}", render)
    return conditional_response(item, HTML, PAGE_CACHE)


def page_number() -> int:
    raw = request.args.get("page", "1")
    # ASCII digits only: "²".isdigit() is true, and int("²") raises.
    if not PAGE_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= 100_000:
        raise ProblemError("bad-page", "page is a whole number from 1.")
    return int(raw)


def cached(key: str, render: Callable[[], Rendered]) -> Rendered:
    return rendered_cache().get(key, views_position(), render)
