"""Feeds: all, per kind and per tag (Atom, RSS, JSON Feed), the changes feed and
the RFC 5005 archive, each rendered once per views position and served with
conditional GET."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort

from pressfeed.projections.archive import archive_page, closed_page_count, open_page
from pressfeed.projections.catalogue import latest_public, recent_retractions
from pressfeed.projections.changes import latest_changes
from pressfeed.schemas import TAG_REGEX
from pressfeed.web.caching import Rendered, conditional_response, rendered
from pressfeed.web.services import services
from pressfeed.web.syndication import (
    EPOCH,
    MEDIA_TYPES,
    ArchiveLinks,
    FeedExtras,
    FeedSpec,
    atom_feed,
    change_time,
    changes_feed,
    feed_updated,
    json_feed,
    rss_feed,
)

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

FEED_SIZE = 50
TOMBSTONE_DAYS = 30
FEED_CACHE = "public, max-age=60"
# A closed archive page changes only when a retraction removes a withdrawn text
# from it, so caches keep it an hour and then revalidate (cheap: ETag, 304).
ARCHIVE_CACHE = "public, max-age=3600"
RENDERERS = {"atom": atom_feed, "rss": rss_feed, "json": json_feed}
CHARSETS = {"atom": "; charset=utf-8", "rss": "; charset=utf-8", "json": ""}


@bp.get("/all.<fmt>")
def all_statements(fmt: str) -> Response:
    spec = FeedSpec("/feeds/all", services().settings.site_title, "/messages")
    return serve_feed(spec, fmt, {})


@bp.get("/kind/<kind>.<fmt>")
def by_kind(kind: str, fmt: str) -> Response:
    if kind not in services().settings.kinds:
        abort(404)
    title = f"{services().settings.site_title}: {kind.replace('-', ' ')}"
    return serve_feed(
        FeedSpec(f"/feeds/kind/{kind}", title, "/messages"), fmt, {"kind": kind}
    )


@bp.get("/tag/<tag>.<fmt>")
def by_tag(tag: str, fmt: str) -> Response:
    if not re.fullmatch(TAG_REGEX, tag) or len(tag) > 50 or tag != tag.lower():
        abort(404)
    title = f"{services().settings.site_title}: #{tag}"
    return serve_feed(
        FeedSpec(f"/feeds/tag/{tag}", title, "/messages"), fmt, {"tag": tag}
    )


@bp.get("/changes.atom")
def changes() -> Response:
    settings = services().settings
    spec = FeedSpec("/feeds/changes", f"{settings.site_title}: changes", "/messages")

    def render() -> Rendered:
        items = latest_changes(services().views, FEED_SIZE)
        body = changes_feed(spec, items, settings, FeedExtras(head=log_head()))
        return rendered(body, max((change_time(c) for c in items), default=EPOCH))

    item = cached("changes.atom", render)
    return conditional_response(
        item, MEDIA_TYPES["atom"] + CHARSETS["atom"], FEED_CACHE
    )


@bp.get("/archive/<int:number>.atom")
def archive(number: int) -> Response:
    closed = closed_page_count(services().views)
    if not 1 <= number <= closed:
        abort(404)
    settings = services().settings
    links = ArchiveLinks(
        prev_archive=f"/feeds/archive/{number - 1}.atom" if number > 1 else None,
        next_archive=f"/feeds/archive/{number + 1}.atom" if number < closed else None,
        current="/feeds/all.atom",
        is_archive=True,
    )
    spec = FeedSpec(
        f"/feeds/archive/{number}", f"{settings.site_title}: archive {number}",
        "/messages", links,
    )  # fmt: skip

    def render() -> Rendered:
        documents = archive_page(services().views, number)
        body = atom_feed(spec, documents, settings)
        return rendered(body, feed_updated(documents, FeedExtras()))

    item = cached(f"archive/{number}", render)
    return conditional_response(
        item, MEDIA_TYPES["atom"] + CHARSETS["atom"], ARCHIVE_CACHE
    )


def serve_feed(spec: FeedSpec, fmt: str, scope: dict[str, str]) -> Response:
    if fmt not in RENDERERS:
        abort(404)
    settings = services().settings

    def render() -> Rendered:
        views = services().views
        documents = latest_public(views, limit=FEED_SIZE, **scope)
        extras = FeedExtras(hubs=settings.websub_hubs)
        feed_spec = spec
        expires_at = None
        if fmt == "atom":
            extras.head = log_head()
            extras.tombstones = tombstones(views, scope)
            if extras.tombstones:
                expires_at = tombstone_expiry(extras.tombstones)
            if not scope:
                feed_spec = with_archive_links(spec, closed_page_count(views))
                documents = with_open_page(documents, open_page(views))
        body = RENDERERS[fmt](feed_spec, documents, settings, extras)
        return rendered(body, feed_updated(documents, extras), expires_at)

    item = cached(f"{spec.path}.{fmt}", render)
    return conditional_response(item, MEDIA_TYPES[fmt] + CHARSETS[fmt], FEED_CACHE)


def log_head() -> dict[str, str] | None:
    """The audit log's newest link, for readers to witness (see /audit/head)."""
    link = services().ledger.head()
    if link is None:
        return None
    href = f"{services().settings.base_url}/audit/head"
    return {"position": str(link.position), "hash": link.hash, "href": href}


def tombstones(views: Any, scope: dict[str, str]) -> list[dict[str, Any]]:
    """Statements withdrawn in the last 30 days, within the feed's kind or tag."""
    since = datetime.now(UTC) - timedelta(days=TOMBSTONE_DAYS)
    found = recent_retractions(views, since)
    if "kind" in scope:
        found = [d for d in found if d["kind"] == scope["kind"]]
    if "tag" in scope:
        found = [d for d in found if scope["tag"] in d["tags"]]
    return found


def tombstone_expiry(found: list[dict[str, Any]]) -> float:
    """When the oldest tombstone leaves the feed: the cached bytes expire then."""
    oldest = min(
        datetime.fromisoformat(d["retracted_at"].replace("Z", "+00:00")) for d in found
    )
    return (oldest + timedelta(days=TOMBSTONE_DAYS)).timestamp()


def with_open_page(
    newest: list[dict[str, Any]], open_entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The newest statements plus those not yet in a closed archive page, so the
    subscription feed and the archive together hold the complete history even
    when back-dated statements arrive out of order."""
    seen = {d["id"] for d in newest}
    extra = [d for d in open_entries if d["id"] not in seen]
    combined = newest + extra
    return sorted(combined, key=lambda d: (d["published_at"], d["id"]), reverse=True)


def with_archive_links(spec: FeedSpec, closed_pages: int) -> FeedSpec:
    if not closed_pages:
        return spec
    links = ArchiveLinks(prev_archive=f"/feeds/archive/{closed_pages}.atom")
    return FeedSpec(spec.path, spec.title, spec.page, links)


def cached(key: str, render: Callable[[], Rendered]) -> Rendered:
    s = services()
    return s.cache.get(key, s.views_position(), render)
