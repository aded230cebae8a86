"""The public web site: front page, all messages, one statement. No JavaScript."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from flask import Blueprint, Response, abort, g, render_template, request
from werkzeug.http import http_date

from pressfeed.aggregates import PUBLISHED, Statement
from pressfeed.projections.catalogue import (
    count_public,
    latest_public,
    public_statement,
    public_translations,
)
from pressfeed.representation import (
    StatementDocument,
    is_withdrawn,
    public_notes,
    statement_document,
)
from pressfeed.times import parse_http_date
from pressfeed.urls import (
    absolute,
    front_page_path,
    messages_path,
    statement_path,
    statement_version_path,
)
from pressfeed.web.caching import (
    Rendered,
    conditional_response,
    last_modified,
    public_cache_control,
    rendered,
)
from pressfeed.web.context import rendered_cache, services
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
    """Today's date and clocks, contact, the newest statement in full, the latest."""
    now = datetime.now(UTC)
    minute_ends = (math.floor(time.time() / 60) + 1) * 60
    page_language(lang)
    listed = list_language(lang)

    def render() -> Rendered:
        documents = latest_public(
            services().views, limit=LATEST_COUNT + 1, language=listed
        )
        current = [d for d in documents if d["status"] == PUBLISHED]
        body = render_template(
            "front.html",
            now=now,
            clocks=services().settings.clocks,
            newest=current[0] if current else None,
            latest=current[1:],
        )
        minute = now.replace(second=0, microsecond=0)
        modified = max(minute, services().views.public_stamp())
        return rendered(body.encode(), modified, minute_ends)

    item = cached(f"page:{front_page_path(lang)}:{int(minute_ends)}", render)
    return conditional_response(item, HTML, PAGE_CACHE)


@bp.get("/messages")
@bp.get("/<lang:lang>/messages")
def messages(lang: str = "") -> Response:
    """All messages, newest first, 20 a page."""
    page = page_number()
    views = services().views
    page_language(lang)
    listed = list_language(lang)

    def render() -> Rendered:
        total = count_public(views, listed)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        if page > pages:
            abort(404)
        documents = latest_public(
            views, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, language=listed
        )
        body = render_template(
            "messages.html", documents=documents, page=page, pages=pages
        )
        return rendered(body.encode(), views.public_stamp())

    item = cached(f"page:{messages_path(lang)}:{page}", render)
    return conditional_response(item, HTML, PAGE_CACHE)


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
        # A translation published later changes the page (its links) too.
        dated = [document, *translations]
        return rendered(
            body.encode(), last_modified(dated), status=410 if gone else 200
        )

    item = cached(f"page:/statements/{slug}", render)
    return conditional_response(item, HTML, PAGE_CACHE)


def page_number() -> int:
    raw = request.args.get("page", "1")
    # ASCII digits only: "²".isdigit() is true, and int("²") raises.
    if not PAGE_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= 100_000:
        raise ProblemError("bad-page", "page is a whole number from 1.")
    return int(raw)


def cached(key: str, render: Callable[[], Rendered]) -> Rendered:
    return rendered_cache().get(key, services().views_position(), render)
