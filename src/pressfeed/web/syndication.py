"""Atom 1.0, RSS 2.0 (feedgen) and JSON Feed 1.1 documents from view documents.

Rendering is deterministic: the same documents give the same bytes (feed times
come from the entries, never from the clock), so cached bytes and ETags stay
valid until the views change. A withdrawn statement keeps its id and becomes a
withdrawal notice (no original text) in every format; Atom feeds also carry an
RFC 6721 tombstone for 30 days after the retraction, whose ``when`` equals the
notice entry's ``updated``, so a tombstone-aware reader treats it as deleted and
every other reader replaces the text in place.
"""

from __future__ import annotations

import html
import json
import re
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from pressfeed.config import Settings

TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
AUDIT_NS = "tag:pressfeed,2026:audit"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GENERATOR = "pressfeed"

# feedgen formats RFC 822 dates by switching the process-wide locale: one at a time.
_render_lock = threading.Lock()


@dataclass(frozen=True)
class FeedSpec:
    """One feed: where it lives, what it is called, which page it mirrors."""

    path: str  # without extension, e.g. /feeds/kind/speech
    title: str
    page: str  # the HTML page it mirrors (alternate link)
    archive: ArchiveLinks | None = None


@dataclass(frozen=True)
class ArchiveLinks:
    """RFC 5005 links: this document's place among the archive pages."""

    prev_archive: str | None = None
    next_archive: str | None = None
    current: str | None = None
    is_archive: bool = False


@dataclass
class FeedExtras:
    tombstones: list[dict[str, Any]] = field(default_factory=list)
    hubs: Sequence[str] = ()
    head: dict[str, str] | None = None  # the audit log's newest {position, hash, href}


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def absolute_links(content: str, base_url: str) -> str:
    """Makes site-relative href and src attributes absolute."""
    return re.sub(r'(href|src)="/(?!/)', rf'\1="{base_url}/', content)


def display_date(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.timezone).strftime(settings.date_format)


BLOCK_TAGS = re.compile(r"</?(?:p|li|ul|ol|h\d|br|blockquote|pre|tr|td|th|hr)\b[^>]*>")


def plain_summary(body_html: str, limit: int = 280) -> str:
    """The opening words as plain text: block tags become spaces, inline ones vanish."""
    text = html.unescape(re.sub(r"<[^>]+>", "", BLOCK_TAGS.sub(" ", body_html)))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def withdrawn(document: dict[str, Any]) -> bool:
    return document["status"] == "retracted"


def withdrawal_notice(document: dict[str, Any], settings: Settings) -> str:
    when = display_date(parse_time(document["retracted_at"]), settings)
    reason = html.escape(document["retraction_reason"] or "")
    return f"<p>This statement was withdrawn on {when}.</p><p>Reason: {reason}</p>"


def public_notes(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Change notes the public sees: those of major amendments after publication."""
    return [n for n in document["change_notes"] if n["public"] and not n["minor"]]


def entry_title(document: dict[str, Any]) -> str:
    prefix = "Withdrawn: " if withdrawn(document) else ""
    return prefix + document["title"]


def entry_content(document: dict[str, Any], settings: Settings) -> str:
    """The full sanitised text, ending with the public change notes."""
    if withdrawn(document):
        return withdrawal_notice(document, settings)
    notes = "".join(
        f"<p><em>Updated {display_date(parse_time(n['at']), settings)}: "
        f"{html.escape(n['note'])}</em></p>"
        for n in public_notes(document)
    )
    return absolute_links(document["body_html"], settings.base_url) + notes


def entry_updated(document: dict[str, Any]) -> datetime:
    return parse_time(document["retracted_at"] or document["updated_at"])


def entry_url(document: dict[str, Any], settings: Settings) -> str:
    return f"{settings.base_url}/statements/{document['slug']}"


def feed_updated(documents: Sequence[dict[str, Any]], extras: FeedExtras) -> datetime:
    times = [entry_updated(d) for d in documents]
    times += [parse_time(t["retracted_at"]) for t in extras.tombstones]
    return max(times, default=EPOCH)


class HistoryAndTombstones(BaseExtension):
    """RFC 5005 fh:archive, RFC 6721 at:deleted-entry, hub links in RSS, and the
    audit log's head (position and hash), so readers witness the log."""

    def __init__(self) -> None:
        self.tombstones: list[tuple[str, datetime, str, str]] = []
        self.is_archive = False
        self.rss_links: list[tuple[str, str]] = []
        self.head: dict[str, str] | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"at": TOMBSTONES_NS, "fh": HISTORY_NS, "audit": AUDIT_NS}

    def extend_atom(self, feed: Any) -> Any:
        if self.is_archive:
            etree.SubElement(feed, f"{{{HISTORY_NS}}}archive")
        for ref, when, link, comment in self.tombstones:
            tombstone = etree.SubElement(
                feed,
                f"{{{TOMBSTONES_NS}}}deleted-entry",
                ref=ref,
                when=when.isoformat(),
            )
            etree.SubElement(tombstone, f"{{{ATOM_NS}}}link", href=link)
            etree.SubElement(tombstone, f"{{{TOMBSTONES_NS}}}comment").text = comment
        if self.head is not None:
            etree.SubElement(feed, f"{{{AUDIT_NS}}}log-head", **self.head)
        return feed

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        for rel, href in self.rss_links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel=rel, href=href)
        return feed


def _generator(spec: FeedSpec, settings: Settings, fmt: str) -> FeedGenerator:
    feed_url = f"{settings.base_url}{spec.path}.{fmt}"
    fg = FeedGenerator()
    fg.register_extension("pressfeed", HistoryAndTombstones, atom=True, rss=True)
    fg.id(feed_url)
    fg.title(spec.title)
    fg.author({"name": settings.site_title})
    fg.description(f"Official statements: {spec.title}")
    fg.language(settings.default_language)
    fg.generator(GENERATOR)
    fg.link(href=feed_url, rel="self", type=MEDIA_TYPES[fmt])
    fg.link(href=f"{settings.base_url}{spec.page}", rel="alternate", type="text/html")
    return fg


def _add_entries(
    fg: FeedGenerator, documents: Sequence[dict[str, Any]], settings: Settings
) -> None:
    for document in documents:
        entry = fg.add_entry(order="append")
        entry.id(f"urn:uuid:{document['id']}")
        entry.guid(f"urn:uuid:{document['id']}", permalink=False)
        entry.title(entry_title(document))
        entry.link(href=entry_url(document, settings), rel="alternate")
        entry.published(parse_time(document["published_at"]))
        entry.updated(entry_updated(document))
        content = entry_content(document, settings)
        entry.content(content, type="html")
        entry.summary(html.escape(plain_summary(content)), type="html")
        if not withdrawn(document):
            entry.category(term=document["kind"])
            for tag in document["tags"]:
                entry.category(term=tag)


def atom_feed(
    spec: FeedSpec,
    documents: Sequence[dict[str, Any]],
    settings: Settings,
    extras: FeedExtras | None = None,
) -> bytes:
    extras = extras or FeedExtras()
    with _render_lock:
        fg = _generator(spec, settings, "atom")
        for hub in extras.hubs:
            fg.link(href=hub, rel="hub")
        if spec.archive is not None:
            for rel in ("prev-archive", "next-archive", "current"):
                href = getattr(spec.archive, rel.replace("-", "_"))
                if href:
                    fg.link(href=f"{settings.base_url}{href}", rel=rel)
            fg.pressfeed.is_archive = spec.archive.is_archive
        fg.pressfeed.tombstones = [
            (
                f"urn:uuid:{t['id']}",
                parse_time(t["retracted_at"]),
                entry_url(t, settings),
                t["retraction_reason"] or "",
            )
            for t in extras.tombstones
        ]
        fg.pressfeed.head = extras.head
        fg.updated(feed_updated(documents, extras))
        _add_entries(fg, documents, settings)
        return fg.atom_str(pretty=False)


def rss_feed(
    spec: FeedSpec,
    documents: Sequence[dict[str, Any]],
    settings: Settings,
    extras: FeedExtras | None = None,
) -> bytes:
    extras = extras or FeedExtras()
    with _render_lock:
        fg = _generator(spec, settings, "rss")
        fg.pressfeed.rss_links = [("hub", hub) for hub in extras.hubs]
        fg.updated(feed_updated(documents, extras))
        _add_entries(fg, documents, settings)
        return fg.rss_str(pretty=False)


def json_feed(
    spec: FeedSpec,
    documents: Sequence[dict[str, Any]],
    settings: Settings,
    extras: FeedExtras | None = None,
) -> bytes:
    extras = extras or FeedExtras()
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": f"{settings.base_url}{spec.page}",
        "feed_url": f"{settings.base_url}{spec.path}.json",
        "description": f"Official statements: {spec.title}",
        "language": settings.default_language,
        "authors": [{"name": settings.site_title}],
        "items": [json_item(d, settings) for d in documents],
    }
    if extras.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in extras.hubs]
    return json.dumps(feed, ensure_ascii=False, indent=1).encode()


def json_item(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    content = entry_content(document, settings)
    item = {
        "id": f"urn:uuid:{document['id']}",
        "url": entry_url(document, settings),
        "title": entry_title(document),
        "content_html": content,
        "summary": plain_summary(content),
        "date_published": parse_time(document["published_at"]).isoformat(),
        "date_modified": entry_updated(document).isoformat(),
        "language": document["language"],
    }
    if not withdrawn(document):
        item["tags"] = [document["kind"], *document["tags"]]
    return item


def changes_feed(
    spec: FeedSpec,
    changes: Sequence[dict[str, Any]],
    settings: Settings,
    extras: FeedExtras | None = None,
) -> bytes:
    """/feeds/changes.atom: one entry per public change, with note and diff."""
    with _render_lock:
        fg = _generator(spec, settings, "atom")
        fg.pressfeed.head = (extras or FeedExtras()).head
        times = [change_time(c) for c in changes]
        fg.updated(max(times, default=EPOCH))
        for change, at in zip(changes, times, strict=True):
            document = change["statement"]
            entry = fg.add_entry(order="append")
            change_id = uuid.uuid5(
                uuid.NAMESPACE_URL, f"{document['id']}/{change['position']}"
            )
            entry.id(f"urn:uuid:{change_id}")
            label = {
                "published": "Published",
                "amended": "Amended",
                "retracted": "Withdrawn",
            }
            entry.title(f"{label[change['what']]}: {document['title']}")
            entry.link(href=entry_url(document, settings), rel="alternate")
            entry.published(at)
            entry.updated(at)
            entry.content(change_content(change, settings), type="html")
        return fg.atom_str(pretty=False)


def change_time(change: dict[str, Any]) -> datetime:
    document = change["statement"]
    field_name = {"published": "published_at", "amended": "updated_at"}.get(
        change["what"], "retracted_at"
    )
    if change["what"] == "amended":
        notes = [
            n for n in document["change_notes"] if n["version"] == change["version"]
        ]
        if notes:
            return parse_time(notes[0]["at"])
    return parse_time(document[field_name])


def change_content(change: dict[str, Any], settings: Settings) -> str:
    document = change["statement"]
    if change["what"] == "retracted":
        return withdrawal_notice(document, settings)
    if withdrawn(document):
        return "<p>This statement was later withdrawn; its text is no longer shown.</p>"
    note = f"<p>{html.escape(change['note'])}</p>" if change["note"] else ""
    return f"{note}<pre>{html.escape(change['diff'])}</pre>"


MEDIA_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
