"""Feeds: all, per kind and per tag (in every registered format), the changes
feed and the RFC 5005 archive, each rendered once per views position and
served with conditional GET.

The feeds of statements carry the 50 whose last public change (publication,
major amendment, withdrawal) is newest, so a correction or a withdrawal of a
statement of any age reaches every subscriber. Their bytes, ETag and
Last-Modified change only when the public sees a change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, request
from flask_babel import gettext  # type: ignore[import-untyped]

from pressfeed.projections.archive import archive_page, closed_page_count, open_page
from pressfeed.projections.base import ReadModel
from pressfeed.projections.catalogue import (
    last_tombstone_expiry,
    latest_public_changes,
    public_translations,
    recent_retractions,
)
from pressfeed.projections.changes import (
    change_archive_page,
    closed_change_pages,
    latest_changes,
    rewritten_by_withdrawal,
)
from pressfeed.projections.search import Scope, parse_query, search
from pressfeed.representation import StatementDocument, with_body_html
from pressfeed.schemas import is_tag
from pressfeed.syndication import (
    ATOM,
    FEED_FORMATS,
    ArchiveLinks,
    FeedExtras,
    FeedFormat,
    FeedSpec,
    FeedWords,
    changes_feed,
    entry_updated,
)
from pressfeed.times import parse_time
from pressfeed.urls import (
    ALL_STATEMENTS,
    KIND,
    TAG,
    FeedScope,
    absolute,
    archive_page_path,
    change_archive_page_path,
    changes_feed_path,
    feed_path,
    messages_path,
    page_of_feed,
    search_feed_path,
    search_path,
)
from pressfeed.web.caching import (
    Rendered,
    conditional_response,
    last_modified,
    public_cache_control,
    rendered,
)
from pressfeed.web.context import rendered_cache, services, views_position
from pressfeed.web.labels import kind_label
from pressfeed.web.languages import list_language, page_language
from pressfeed.web.problems import ProblemError

bp = Blueprint("feeds", __name__)

FEED_SIZE = 50
TOMBSTONE_DAYS = 30
FEED_CACHE = public_cache_control(60)
# A closed archive page changes only when a retraction removes a withdrawn text
# from it, so readers keep it an hour and then revalidate (cheap: ETag, 304).
ARCHIVE_CACHE = public_cache_control(3600)


@bp.get("/feeds/all.<fmt>")
@bp.get("/<lang:lang>/feeds/all.<fmt>")
def all_statements(fmt: str, lang: str = "") -> Response:
    scope = FeedScope(language=lang)
    return serve_feed(scope, fmt, services().settings.site_title)


@bp.get("/feeds/kind/<kind>.<fmt>")
@bp.get("/<lang:lang>/feeds/kind/<kind>.<fmt>")
def by_kind(kind: str, fmt: str, lang: str = "") -> Response:
    if kind not in services().settings.kinds:
        abort(404)
    page_language(lang)  # the kind's name in the feed's language
    title = gettext(
        "%(site)s: %(kind)s",
        site=services().settings.site_title,
        kind=kind_label(kind),
    )
    return serve_feed(FeedScope(KIND, kind, lang), fmt, title)


@bp.get("/feeds/tag/<tag>.<fmt>")
@bp.get("/<lang:lang>/feeds/tag/<tag>.<fmt>")
def by_tag(tag: str, fmt: str, lang: str = "") -> Response:
    if not is_tag(tag):  # the rule every accepted tag passed
        abort(404)
    title = f"{services().settings.site_title}: #{tag}"
    return serve_feed(FeedScope(TAG, tag, lang), fmt, title)


@bp.get("/feeds/search.atom")
@bp.get("/<lang:lang>/feeds/search.atom")
def search_feed(lang: str = "") -> Response:
    """Every search as a feed: the 50 newest published statements matching q."""
    query = parse_query(request.args.get("q", ""))
    if query.empty:
        raise ProblemError("bad-search", "Give q, the words to search for.")
    settings = services().settings
    language = page_language(lang)
    asked = urlencode({"q": query.text})
    spec = FeedSpec(
        f"{search_feed_path(lang)}?{asked}",
        gettext(
            "%(site)s: search %(words)s", site=settings.site_title, words=query.text
        ),
        f"{search_path(lang)}?{asked}",
        language=language,
    )

    def render() -> Rendered:
        found = search(
            services().views,
            query,
            limit=FEED_SIZE,
            scope=Scope(newest_first=True),
        )
        documents = [with_body_html(hit.document) for hit in found.hits]
        modified = list_modified()
        # A withdrawn statement no longer matches: a reader learns it was
        # withdrawn from a tombstone (one for every recent withdrawal, of any
        # language: which ones it held, the reader knows).
        gone = recent_retractions(services().views, tombstones_since(), None)
        extras = FeedExtras(words=feed_words(), quiet_since=modified, tombstones=gone)
        body = ATOM.render(spec, documents, settings, extras)
        return rendered(body, modified, tombstone_expiry(gone) if gone else None)

    item = cached(f"{search_feed_path(lang)}:{query.text}", render)
    return conditional_response(item, ATOM.content_type, FEED_CACHE)


@bp.get("/feeds/changes.atom")
@bp.get("/<lang:lang>/feeds/changes.atom")
def changes(lang: str = "") -> Response:
    settings = services().settings
    language = page_language(lang)  # before the title: it is in that language
    spec = FeedSpec(
        changes_feed_path(lang),
        gettext("%(site)s: changes", site=settings.site_title),
        messages_path(lang),
        language=language,
    )
    listed = list_language(lang)

    def render() -> Rendered:
        views = services().views
        items = latest_changes(views, FEED_SIZE, listed, open_page_of=language)
        rewritten = rewritten_by_withdrawal(views, tombstones_since(), listed)
        modified = list_modified()
        extras = FeedExtras(
            words=feed_words(),
            rewritten=rewritten,
            quiet_since=modified,
            hubs=settings.websub_hubs,
        )
        closed = closed_change_pages(views, language)
        links = ArchiveLinks(prev_archive=change_archive_page_path(closed, lang))
        archived = replace(spec, archive=links) if closed else spec
        body = changes_feed(archived, items, settings, extras)
        withdrawn = [c["statement"] for c in rewritten]
        expires_at = tombstone_expiry(withdrawn) if withdrawn else None
        return rendered(body, modified, expires_at)

    item = cached(changes_feed_path(lang), render)
    answer = conditional_response(item, ATOM.content_type, FEED_CACHE, replayable=True)
    return with_websub_links(answer, changes_feed_path(lang))


@bp.get("/feeds/changes/archive/<int:number>.atom")
@bp.get("/<lang:lang>/feeds/changes/archive/<int:number>.atom")
def change_archive(number: int, lang: str = "") -> Response:
    """A closed page of 50 public changes, for a reader that missed them."""
    language = page_language(lang)
    closed = closed_change_pages(services().views, language)
    links = archive_links(
        number,
        closed,
        lambda n: change_archive_page_path(n, lang),
        changes_feed_path(lang),
    )
    settings = services().settings
    title = gettext(
        "%(site)s: changes, archive %(number)s",
        site=settings.site_title,
        number=number,
    )
    path = change_archive_page_path(number, lang)
    spec = FeedSpec(path, title, messages_path(lang), links, language=language)

    def render() -> Rendered:
        views = services().views
        items = change_archive_page(views, number, language)
        # A withdrawal rewrites its statement's earlier changes here too, and
        # the next page's closing gave this one its next-archive link.
        dated = items
        if number < closed:
            dated = items + change_archive_page(views, number + 1, language)
        # When each was recorded (a back-dated publication's is its import).
        modified = last_modified([c["statement"] for c in dated])
        extras = FeedExtras(words=feed_words(), quiet_since=modified)
        return rendered(changes_feed(spec, items, settings, extras), modified)

    item = cached(path, render)
    return conditional_response(item, ATOM.content_type, ARCHIVE_CACHE, replayable=True)


@bp.get("/feeds/archive/<int:number>.atom")
@bp.get("/<lang:lang>/feeds/archive/<int:number>.atom")
def archive(number: int, lang: str = "") -> Response:
    language = page_language(lang)
    closed = closed_page_count(services().views, language)
    current = feed_path(FeedScope(language=lang), ATOM.extension)
    links = archive_links(number, closed, lambda n: archive_page_path(n, lang), current)
    settings = services().settings
    title = gettext(
        "%(site)s: archive %(number)s", site=settings.site_title, number=number
    )
    spec = FeedSpec(
        archive_page_path(number, lang),
        title,
        messages_path(lang),
        links,
        language=language,
    )

    def render() -> Rendered:
        views = services().views
        documents = archive_page(views, number, language)
        body = ATOM.render(spec, documents, settings, FeedExtras(words=feed_words()))
        modified = last_modified(documents)
        if number < closed:  # its next-archive link came when the next page closed
            modified = max(
                modified, last_modified(archive_page(views, number + 1, language))
            )
        return rendered(body, modified)

    item = cached(archive_page_path(number, lang), render)
    return conditional_response(item, ATOM.content_type, ARCHIVE_CACHE, replayable=True)


def archive_links(
    number: int, closed: int, page_path: Callable[[int], str], current: str
) -> ArchiveLinks:
    """RFC 5005 links of closed archive page number (404 for any other)."""
    if not 1 <= number <= closed:
        abort(404)
    return ArchiveLinks(
        prev_archive=page_path(number - 1) if number > 1 else None,
        next_archive=page_path(number + 1) if number < closed else None,
        current=current,
        is_archive=True,
    )


def serve_feed(scope: FeedScope, extension: str, title: str) -> Response:
    """One feed of statements in one registered format."""
    feed_format = FEED_FORMATS.get(extension)
    if feed_format is None:
        abort(404)
    path = feed_path(scope, extension)
    language = page_language(scope.language)

    def render() -> Rendered:
        spec = FeedSpec(path, title, page_of_feed(scope), language=language)
        return render_feed(scope, feed_format, spec)

    item = cached(path, render)
    answer = conditional_response(
        item, feed_format.content_type, FEED_CACHE, replayable=True
    )
    return with_websub_links(answer, path)


def with_websub_links(answer: Response, topic_path: str) -> Response:
    """WebSub discovery in HTTP (WebSub 4): the hubs, and the topic's own URL
    the pings name; the only discovery a JSON Feed reader has besides hubs."""
    settings = services().settings
    if settings.websub_hubs:
        links = [f'<{hub}>; rel="hub"' for hub in settings.websub_hubs]
        links.append(f'<{absolute(settings.base_url, topic_path)}>; rel="self"')
        answer.headers["Link"] = ", ".join(links)
    return answer


def render_feed(scope: FeedScope, feed_format: FeedFormat, spec: FeedSpec) -> Rendered:
    settings, views = services().settings, services().views
    listed = list_language(scope.language)
    documents = latest_public_changes(
        views,
        limit=FEED_SIZE,
        kind=scope.value if scope.what == KIND else None,
        tag=scope.value if scope.what == TAG else None,
        language=listed,
    )
    modified = list_modified()
    extras = FeedExtras(
        words=feed_words(),
        hubs=settings.websub_hubs,
        translations=public_translations_of(views, documents),
        quiet_since=modified,
    )
    expires_at = None
    if feed_format.carries_tombstones:
        extras.tombstones = tombstones(views, scope)
        if extras.tombstones:
            expires_at = tombstone_expiry(extras.tombstones)
        if scope.what == ALL_STATEMENTS.what:
            language = spec.language
            spec = with_archive_links(
                spec, closed_page_count(views, language), scope.language
            )
            documents = with_open_page(documents, open_page(views, language))
    body = feed_format.render(spec, documents, settings, extras)
    return rendered(body, modified, expires_at)


def tombstones_since() -> datetime:
    return datetime.now(UTC) - timedelta(days=TOMBSTONE_DAYS)


def list_modified() -> datetime:
    """The Last-Modified of a feed: the views' public stamp, or when a tombstone
    last expired from the feeds, whichever is later."""
    views = services().views
    stamp = views.public_stamp()
    expired = last_tombstone_expiry(views, tombstones_since())
    if expired is None:
        return stamp
    return max(stamp, expired + timedelta(days=TOMBSTONE_DAYS))


def tombstones(views: ReadModel, scope: FeedScope) -> list[StatementDocument]:
    """Statements withdrawn in the last 30 days, within the feed's language, kind
    or tag."""
    found = recent_retractions(views, tombstones_since(), list_language(scope.language))
    if scope.what == KIND:
        found = [d for d in found if d["kind"] == scope.value]
    if scope.what == TAG:
        found = [d for d in found if scope.value in d["tags"]]
    return found


def tombstone_expiry(found: list[StatementDocument]) -> float:
    """When the oldest tombstone leaves the feed: the cached bytes expire then."""
    oldest = min(parse_time(d["retracted_at"]) for d in found if d["retracted_at"])
    return (oldest + timedelta(days=TOMBSTONE_DAYS)).timestamp()


def with_open_page(
    newest: list[StatementDocument], open_entries: list[StatementDocument]
) -> list[StatementDocument]:
    """The newest changed statements plus those not yet in a closed archive page,
    so the subscription feed and the archive together hold the complete history
    even when back-dated statements arrive out of order; newest change first."""
    seen = {d["id"] for d in newest}
    extra = [d for d in open_entries if d["id"] not in seen]
    return sorted(
        newest + extra, key=lambda d: (entry_updated(d), d["id"]), reverse=True
    )


def with_archive_links(spec: FeedSpec, closed_pages: int, prefix: str) -> FeedSpec:
    if not closed_pages:
        return spec
    links = ArchiveLinks(prev_archive=archive_page_path(closed_pages, prefix))
    return replace(spec, archive=links)


def public_translations_of(
    views: ReadModel, documents: list[StatementDocument]
) -> dict[str, list[StatementDocument]]:
    """The published translations of each statement with any, by its id."""
    return {
        d["id"]: found
        for d in documents
        if d.get("translation_group") and (found := public_translations(views, d))
    }


def cached(key: str, render: Callable[[], Rendered]) -> Rendered:
    return rendered_cache().get(key, views_position(), render)


def feed_words() -> FeedWords:
    """What a feed says around its statements, in the interface language of
    the feed (its prefix's): the templates, translated, formatted later."""
    return FeedWords(
        withdrawn_title=gettext("Withdrawn: %(title)s"),
        withdrawn_on=gettext("This statement was withdrawn on %(date)s."),
        reason=gettext("Reason: %(reason)s"),
        updated=gettext("Updated %(date)s: %(note)s"),
        later_withdrawn=gettext(
            "This statement was later withdrawn; its text is no longer shown."
        ),
        tombstone=gettext("The statement was withdrawn."),
        description=gettext("Official statements: %(title)s"),
        published_title=gettext("Published: %(title)s"),
        amended_title=gettext("Amended: %(title)s"),
    )
