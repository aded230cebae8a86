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
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, request

from pressfeed.projections.archive import archive_page, closed_page_count, open_page
from pressfeed.projections.base import ReadModel
from pressfeed.projections.catalogue import (
    last_tombstone_expiry,
    latest_public_changes,
    recent_retractions,
)
from pressfeed.projections.changes import latest_changes, rewritten_by_withdrawal
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
    changes_feed,
    entry_updated,
)
from pressfeed.times import parse_time
from pressfeed.urls import (
    ALL_STATEMENTS,
    KIND,
    TAG,
    FeedScope,
    archive_page_path,
    changes_feed_path,
    feed_path,
    messages_path,
)
from pressfeed.web.caching import (
    Rendered,
    conditional_response,
    last_modified,
    rendered,
)
from pressfeed.web.context import rendered_cache, services
from pressfeed.web.problems import ProblemError

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

FEED_SIZE = 50
TOMBSTONE_DAYS = 30
FEED_CACHE = "public, max-age=60"
# A closed archive page changes only when a retraction removes a withdrawn text
# from it, so caches keep it an hour and then revalidate (cheap: ETag, 304).
ARCHIVE_CACHE = "public, max-age=3600"


@bp.get("/all.<fmt>")
def all_statements(fmt: str) -> Response:
    return serve_feed(ALL_STATEMENTS, fmt, services().settings.site_title)


@bp.get("/kind/<kind>.<fmt>")
def by_kind(kind: str, fmt: str) -> Response:
    if kind not in services().settings.kinds:
        abort(404)
    title = f"{services().settings.site_title}: {kind.replace('-', ' ')}"
    return serve_feed(FeedScope(KIND, kind), fmt, title)


@bp.get("/tag/<tag>.<fmt>")
def by_tag(tag: str, fmt: str) -> Response:
    if not is_tag(tag):  # the rule every accepted tag passed
        abort(404)
    title = f"{services().settings.site_title}: #{tag}"
    return serve_feed(FeedScope(TAG, tag), fmt, title)


@bp.get("/search.atom")
def search_feed() -> Response:
    """Every search as a feed: the 50 newest published statements matching q."""
    query = parse_query(request.args.get("q", ""))
    if query.empty:
        raise ProblemError("bad-search", "Give q, the words to search for.")
    settings = services().settings
    spec = FeedSpec(
        f"/feeds/search.atom?{urlencode({'q': query.text})}",
        f"{settings.site_title}: search {query.text}",
        f"/search?{urlencode({'q': query.text})}",
    )

    def render() -> Rendered:
        hits, _ = search(
            services().views,
            query,
            limit=FEED_SIZE,
            scope=Scope(newest_first=True),
        )
        documents = [with_body_html(hit.document) for hit in hits]
        body = ATOM.render(spec, documents, settings, FeedExtras())
        return rendered(body, list_modified())

    item = cached(f"search.atom:{query.text}", render)
    return conditional_response(item, ATOM.content_type, FEED_CACHE)


@bp.get("/changes.atom")
def changes() -> Response:
    settings = services().settings
    spec = FeedSpec(
        changes_feed_path(), f"{settings.site_title}: changes", messages_path()
    )

    def render() -> Rendered:
        views = services().views
        items = latest_changes(views, FEED_SIZE)
        rewritten = rewritten_by_withdrawal(views, tombstones_since())
        body = changes_feed(spec, items, settings, FeedExtras(rewritten=rewritten))
        withdrawn = [c["statement"] for c in rewritten]
        expires_at = tombstone_expiry(withdrawn) if withdrawn else None
        return rendered(body, list_modified(), expires_at)

    item = cached("changes.atom", render)
    return conditional_response(item, ATOM.content_type, FEED_CACHE)


@bp.get("/archive/<int:number>.atom")
def archive(number: int) -> Response:
    closed = closed_page_count(services().views)
    if not 1 <= number <= closed:
        abort(404)
    settings = services().settings
    links = ArchiveLinks(
        prev_archive=archive_page_path(number - 1) if number > 1 else None,
        next_archive=archive_page_path(number + 1) if number < closed else None,
        current=feed_path(ALL_STATEMENTS, ATOM.extension),
        is_archive=True,
    )
    title = f"{settings.site_title}: archive {number}"
    spec = FeedSpec(archive_page_path(number), title, messages_path(), links)

    def render() -> Rendered:
        documents = archive_page(services().views, number)
        body = ATOM.render(spec, documents, settings, None)
        return rendered(body, last_modified(documents))

    item = cached(f"archive/{number}", render)
    return conditional_response(item, ATOM.content_type, ARCHIVE_CACHE)


def serve_feed(scope: FeedScope, extension: str, title: str) -> Response:
    """One feed of statements in one registered format."""
    feed_format = FEED_FORMATS.get(extension)
    if feed_format is None:
        abort(404)
    path = feed_path(scope, extension)

    def render() -> Rendered:
        return render_feed(scope, feed_format, FeedSpec(path, title, messages_path()))

    item = cached(path, render)
    return conditional_response(item, feed_format.content_type, FEED_CACHE)


def render_feed(scope: FeedScope, feed_format: FeedFormat, spec: FeedSpec) -> Rendered:
    settings, views = services().settings, services().views
    documents = latest_public_changes(
        views,
        limit=FEED_SIZE,
        kind=scope.value if scope.what == KIND else None,
        tag=scope.value if scope.what == TAG else None,
    )
    extras = FeedExtras(hubs=settings.websub_hubs)
    expires_at = None
    if feed_format.carries_tombstones:
        extras.tombstones = tombstones(views, scope)
        if extras.tombstones:
            expires_at = tombstone_expiry(extras.tombstones)
        if scope == ALL_STATEMENTS:
            spec = with_archive_links(spec, closed_page_count(views))
            documents = with_open_page(documents, open_page(views))
    body = feed_format.render(spec, documents, settings, extras)
    return rendered(body, list_modified(), expires_at)


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
    """Statements withdrawn in the last 30 days, within the feed's kind or tag."""
    found = recent_retractions(views, tombstones_since())
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


def with_archive_links(spec: FeedSpec, closed_pages: int) -> FeedSpec:
    if not closed_pages:
        return spec
    links = ArchiveLinks(prev_archive=archive_page_path(closed_pages))
    return FeedSpec(spec.self_path, spec.title, spec.page, links)


def cached(key: str, render: Callable[[], Rendered]) -> Rendered:
    return rendered_cache().get(key, services().views_position(), render)
