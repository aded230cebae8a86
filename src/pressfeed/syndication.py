"""Atom 1.0, RSS 2.0 (feedgen) and JSON Feed 1.1 documents from statement
documents, and the registry of feed formats.

Rendering is deterministic: the same documents give the same bytes (feed times
come from the entries, never from the clock), so cached bytes and ETags stay
valid until the views change. A withdrawn statement keeps its id and becomes a
withdrawal notice (no original text) in every format; Atom feeds also carry an
RFC 6721 tombstone for 30 days after the retraction, whose ``when`` equals the
notice entry's ``updated``, so a tombstone-aware reader treats it as deleted and
every other reader replaces the text in place.

A feed format is one entry of ``FEED_FORMATS``: the web layer serves every
registered format for every feed, and the WebSub pinger tells hubs about each.
"""

from __future__ import annotations

import html
import json
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from pressfeed.config import Settings
from pressfeed.representation import (
    PublicChange,
    StatementDocument,
    is_withdrawn,
    public_notes,
    teaser,
)
from pressfeed.times import EPOCH, parse_optional_time, parse_time
from pressfeed.urls import absolute, statement_path

TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
DUBLIN_CORE_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
GENERATOR = "pressfeed"

# feedgen formats RFC 822 dates by switching the process-wide locale: one at a time.
_render_lock = threading.Lock()


@dataclass(frozen=True)
class FeedSpec:
    """One feed: where it lives, what it is called, which page it mirrors."""

    self_path: str  # e.g. /feeds/kind/speech.atom
    title: str
    page: str  # the HTML page it mirrors (alternate link)
    archive: ArchiveLinks | None = None
    language: str = ""  # of the feed; '' for the press office's default


@dataclass(frozen=True)
class ArchiveLinks:
    """RFC 5005 links: this document's place among the archive pages."""

    prev_archive: str | None = None
    next_archive: str | None = None
    current: str | None = None
    is_archive: bool = False


@dataclass(frozen=True)
class FeedWords:
    """What a feed says around the statements, as %-templates, in the feed's
    language: the web layer gives them translated (English otherwise)."""

    withdrawn_title: str = "Withdrawn: %(title)s"
    withdrawn_on: str = "This statement was withdrawn on %(date)s."
    reason: str = "Reason: %(reason)s"
    updated: str = "Updated %(date)s: %(note)s"
    later_withdrawn: str = (
        "This statement was later withdrawn; its text is no longer shown."
    )
    tombstone: str = "The statement was withdrawn."
    description: str = "Official statements: %(title)s"
    published_title: str = "Published: %(title)s"
    amended_title: str = "Amended: %(title)s"

    def change_title(self, what: str, title: str) -> str:
        """The title of a changes feed entry: what happened, and to what."""
        template = {
            "published": self.published_title,
            "amended": self.amended_title,
            "retracted": self.withdrawn_title,
        }[what]
        return template % {"title": title}


@dataclass
class FeedExtras:
    words: FeedWords = field(default_factory=FeedWords)
    tombstones: list[StatementDocument] = field(default_factory=list)
    hubs: Sequence[str] = ()
    rewritten: list[PublicChange] = field(default_factory=list)  # changes feed
    # The published translations of the entries that have any, by entry id.
    translations: dict[str, list[StatementDocument]] = field(default_factory=dict)
    # When the public statements last changed: the updated date of a feed that
    # has no entries (a search for a word never used, a kind not used yet).
    quiet_since: datetime = EPOCH


# A link with no scheme and no host of its own (a fragment too).
RELATIVE_LINK = re.compile(r'(href|src)="(?![a-zA-Z][a-zA-Z0-9+.-]*:|//)([^"]*)"')


def absolute_links(content: str, page_url: str) -> str:
    """Makes relative href and src attributes absolute, read against the
    statement's page as its page reads them (a feed reader would read them
    against the feed's address)."""
    return RELATIVE_LINK.sub(
        lambda m: (
            f'{m.group(1)}="{html.escape(urljoin(page_url, html.unescape(m.group(2))))}"'
        ),
        content,
    )


def display_date(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.timezone).strftime(settings.date_format)


BLOCK_TAGS = re.compile(r"</?(?:p|li|ul|ol|h\d|br|blockquote|pre|tr|td|th|hr)\b[^>]*>")


def plain_summary(body_html: str, limit: int = 280) -> str:
    """The opening words as plain text: block tags become spaces, inline ones vanish."""
    text = html.unescape(re.sub(r"<[^>]+>", "", BLOCK_TAGS.sub(" ", body_html)))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def entry_summary(document: StatementDocument, content: str) -> str:
    """The statement's teaser (its summary, or its first paragraph); for a
    withdrawn one, the opening of its notice."""
    if is_withdrawn(document):
        return plain_summary(content)
    return teaser(document)


def withdrawal_notice(
    document: StatementDocument, settings: Settings, words: FeedWords
) -> str:
    when = display_date(parse_time(document["retracted_at"] or ""), settings)
    reason = html.escape(document["retraction_reason"] or "")
    return (
        f"<p>{html.escape(words.withdrawn_on % {'date': when})}</p>"
        f"<p>{html.escape(words.reason) % {'reason': reason}}</p>"
    )


def entry_title(document: StatementDocument, words: FeedWords) -> str:
    if is_withdrawn(document):
        return words.withdrawn_title % {"title": document["title"]}
    return document["title"]


def entry_content(
    document: StatementDocument, settings: Settings, words: FeedWords
) -> str:
    """The full sanitised text, ending with the public change notes."""
    if is_withdrawn(document):
        return withdrawal_notice(document, settings, words)
    notes = "".join(
        "<p><em>"
        + html.escape(words.updated)
        % {
            "date": display_date(parse_time(n["at"]), settings),
            "note": html.escape(n["note"]),
        }
        + "</em></p>"
        for n in public_notes(document)
    )
    return absolute_links(document["body_html"], entry_url(document, settings)) + notes


def entry_updated(document: StatementDocument) -> datetime:
    return parse_time(document["retracted_at"] or document["updated_at"])


def entry_id(document: StatementDocument) -> str:
    """A statement's entry id in every feed: it never changes."""
    return f"urn:uuid:{document['id']}"


def change_entry_id(change: PublicChange) -> str:
    """The id of one change's entry in the changes feed."""
    name = f"{change['statement']['id']}/{change['position']}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def entry_url(document: StatementDocument, settings: Settings) -> str:
    return absolute(settings.base_url, statement_path(document["slug"]))


def feed_updated(
    documents: Sequence[StatementDocument], extras: FeedExtras
) -> datetime:
    times = [entry_updated(d) for d in documents]
    times += [parse_time(t["retracted_at"] or "") for t in extras.tombstones]
    return max(times, default=extras.quiet_since)


class HistoryAndTombstones(BaseExtension):
    """RFC 5005 fh:archive, RFC 6721 at:deleted-entry, xml:lang on entries in
    another language than the feed's, and hub links in RSS.

    A tombstone carries its reason but no atom:link: feedparser (and every
    reader built on it) takes a link inside at:deleted-entry for the feed's own.
    """

    def __init__(self) -> None:
        self.tombstones: list[tuple[str, datetime, str]] = []  # ref, when, comment
        self.is_archive = False
        self.rss_links: list[tuple[str, str]] = []

    def extend_ns(self) -> dict[str, str]:
        return {"at": TOMBSTONES_NS, "fh": HISTORY_NS, "dc": DUBLIN_CORE_NS}

    def extend_atom(self, feed: Any) -> Any:
        if self.is_archive:
            etree.SubElement(feed, f"{{{HISTORY_NS}}}archive")
        for ref, when, comment in self.tombstones:
            tombstone = etree.SubElement(
                feed,
                f"{{{TOMBSTONES_NS}}}deleted-entry",
                ref=ref,
                when=when.isoformat(),
            )
            etree.SubElement(tombstone, f"{{{TOMBSTONES_NS}}}comment").text = comment
        return feed

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        for rel, href in self.rss_links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel=rel, href=href)
        return feed


class EntryExtras(BaseEntryExtension):
    """xml:lang on an Atom entry in another language than its feed's, and a
    link rel="alternate" hreflang to each of its published translations; in
    RSS, whose items have only pubDate (the first publication), atom:updated:
    the last public change, which a reader needs to see a correction as one;
    and dc:creator, the speaker (RSS's own author takes only an e-mail)."""

    def __init__(self) -> None:
        self.language: str | None = None
        self.translations: list[tuple[str, str]] = []  # (language, URL)
        self.updated: datetime | None = None
        self.speaker: str | None = None

    def extend_rss(self, entry: Any) -> Any:
        if self.updated is not None:
            updated = etree.SubElement(entry, f"{{{ATOM_NS}}}updated")
            updated.text = self.updated.isoformat()
        if self.speaker:
            etree.SubElement(entry, f"{{{DUBLIN_CORE_NS}}}creator").text = self.speaker
        return entry

    def extend_atom(self, entry: Any) -> Any:
        if self.language:
            entry.set(XML_LANG, self.language)
        # Before the entry's own alternate link: feedparser, and the readers
        # built on it, take the last one as the entry's link.
        children = list(entry)
        own = [
            i
            for i, child in enumerate(children)
            if str(child.tag).endswith("link")
            and child.get("rel", "alternate") == "alternate"  # feedgen omits it
        ]
        at = own[0] if own else len(children)
        tag = children[own[0]].tag if own else f"{{{ATOM_NS}}}link"
        for offset, (language, href) in enumerate(self.translations):
            link = etree.Element(
                tag,
                rel="alternate",
                type="text/html",
                hreflang=language,
                href=href,
            )
            entry.insert(at + offset, link)
        return entry


def _generator(
    spec: FeedSpec, settings: Settings, media_type: str, words: FeedWords
) -> FeedGenerator:
    feed_url = absolute(settings.base_url, spec.self_path)
    fg = FeedGenerator()
    fg.register_extension(
        "pressfeed", HistoryAndTombstones, EntryExtras, atom=True, rss=True
    )
    fg.id(feed_url)
    fg.title(spec.title)
    fg.author({"name": settings.site_title})
    fg.description(words.description % {"title": spec.title})
    fg.language(feed_language(spec, settings))
    fg.generator(GENERATOR)
    fg.link(href=feed_url, rel="self", type=media_type)
    fg.link(
        href=absolute(settings.base_url, spec.page), rel="alternate", type="text/html"
    )
    return fg


def _link_archive(fg: FeedGenerator, spec: FeedSpec, settings: Settings) -> None:
    """RFC 5005: the links to the neighbouring archive pages, and fh:archive
    on an archive page."""
    if spec.archive is None:
        return
    for rel in ("prev-archive", "next-archive", "current"):
        href = getattr(spec.archive, rel.replace("-", "_"))
        if href:
            fg.link(href=absolute(settings.base_url, href), rel=rel)
    fg.pressfeed.is_archive = spec.archive.is_archive


def feed_language(spec: FeedSpec, settings: Settings) -> str:
    return spec.language or settings.default_language


def _add_entries(
    fg: FeedGenerator,
    documents: Sequence[StatementDocument],
    settings: Settings,
    language: str,
    words: FeedWords,
    translations: dict[str, list[StatementDocument]] | None = None,
) -> None:
    for document in documents:
        entry = fg.add_entry(order="append")
        entry.id(entry_id(document))
        entry.guid(entry_id(document), permalink=False)
        entry.title(entry_title(document, words))
        entry.link(href=entry_url(document, settings), rel="alternate")
        entry.published(parse_optional_time(document["published_at"]))
        entry.updated(entry_updated(document))
        entry.pressfeed.updated = entry_updated(document)
        if document["language"] != language:
            entry.pressfeed.language = document["language"]
        entry.pressfeed.translations = [
            (other["language"], entry_url(other, settings))
            for other in (translations or {}).get(document["id"], [])
        ]
        content = entry_content(document, settings, words)
        entry.content(content, type="html")
        entry.summary(html.escape(entry_summary(document, content)), type="html")
        if document.get("speaker") and not is_withdrawn(document):
            entry.author({"name": document["speaker"]})
            entry.pressfeed.speaker = document["speaker"]
        if not is_withdrawn(document):
            entry.category(term=document["kind"])
            for tag in document["tags"]:
                entry.category(term=tag)


def atom_feed(
    spec: FeedSpec,
    documents: Sequence[StatementDocument],
    settings: Settings,
    extras: FeedExtras | None = None,
) -> bytes:
    extras = extras or FeedExtras()
    with _render_lock:
        fg = _generator(spec, settings, ATOM.media_type, extras.words)
        for hub in extras.hubs:
            fg.link(href=hub, rel="hub")
        _link_archive(fg, spec, settings)
        fg.pressfeed.tombstones = [
            (entry_id(t), entry_updated(t), t["retraction_reason"] or "")
            for t in extras.tombstones
        ]
        fg.updated(feed_updated(documents, extras))
        _add_entries(
            fg,
            documents,
            settings,
            feed_language(spec, settings),
            extras.words,
            extras.translations,
        )
        return bytes(fg.atom_str(pretty=False))


def rss_feed(
    spec: FeedSpec,
    documents: Sequence[StatementDocument],
    settings: Settings,
    extras: FeedExtras | None = None,
) -> bytes:
    extras = extras or FeedExtras()
    with _render_lock:
        fg = _generator(spec, settings, RSS.media_type, extras.words)
        fg.pressfeed.rss_links = [("hub", hub) for hub in extras.hubs]
        fg.updated(feed_updated(documents, extras))
        _add_entries(
            fg, documents, settings, feed_language(spec, settings), extras.words
        )
        return bytes(fg.rss_str(pretty=False))


def json_feed(
    spec: FeedSpec,
    documents: Sequence[StatementDocument],
    settings: Settings,
    extras: FeedExtras | None = None,
) -> bytes:
    extras = extras or FeedExtras()
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": absolute(settings.base_url, spec.page),
        "feed_url": absolute(settings.base_url, spec.self_path),
        "description": extras.words.description % {"title": spec.title},
        "language": feed_language(spec, settings),
        "authors": [{"name": settings.site_title}],
        "items": [json_item(d, settings, extras.words) for d in documents],
    }
    if extras.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in extras.hubs]
    return json.dumps(feed, ensure_ascii=False, indent=1).encode()


def json_item(
    document: StatementDocument, settings: Settings, words: FeedWords
) -> dict[str, Any]:
    content = entry_content(document, settings, words)
    item: dict[str, Any] = {
        "id": entry_id(document),
        "url": entry_url(document, settings),
        "title": entry_title(document, words),
        "content_html": content,
        "summary": entry_summary(document, content),
        "date_published": parse_time(document["published_at"] or "").isoformat(),
        "date_modified": entry_updated(document).isoformat(),
        "language": document["language"],
    }
    if not is_withdrawn(document):
        item["tags"] = [document["kind"], *document["tags"]]
        if document.get("speaker"):
            item["authors"] = [{"name": document["speaker"]}]
    return item


def changes_feed(
    spec: FeedSpec,
    changes: Sequence[PublicChange],
    settings: Settings,
    extras: FeedExtras | None = None,
) -> bytes:
    """/feeds/changes.atom: one entry per public change, with note and diff.

    A withdrawal rewrites the statement's earlier entries (their text and diff
    give way to a notice), moves their `updated` to the withdrawal, and leaves a
    tombstone for each in extras.rewritten."""
    extras = extras or FeedExtras()
    with _render_lock:
        fg = _generator(spec, settings, ATOM.media_type, extras.words)
        for hub in extras.hubs:
            fg.link(href=hub, rel="hub")
        _link_archive(fg, spec, settings)
        fg.pressfeed.tombstones = [
            (change_entry_id(c), change_updated(c), extras.words.tombstone)
            for c in extras.rewritten
        ]
        fg.updated(changes_updated(changes, extras.quiet_since))
        for change in changes:
            document = change["statement"]
            entry = fg.add_entry(order="append")
            entry.id(change_entry_id(change))
            entry.title(extras.words.change_title(change["what"], document["title"]))
            entry.link(href=entry_url(document, settings), rel="alternate")
            entry.published(change_time(change))
            entry.updated(change_updated(change))
            entry.content(change_content(change, settings, extras.words), type="html")
        return bytes(fg.atom_str(pretty=False))


def change_updated(change: PublicChange) -> datetime:
    """When the entry last changed: the change itself, or the withdrawal that
    rewrote it."""
    document = change["statement"]
    if is_withdrawn(document):
        return parse_time(document["retracted_at"] or "")
    return change_time(change)


def changes_updated(
    changes: Sequence[PublicChange], quiet_since: datetime = EPOCH
) -> datetime:
    return max((change_updated(c) for c in changes), default=quiet_since)


def change_time(change: PublicChange) -> datetime:
    document = change["statement"]
    if change["what"] == "amended":
        notes = [
            n for n in document["change_notes"] if n["version"] == change["version"]
        ]
        if notes:
            return parse_time(notes[0]["at"])
        return parse_time(document["updated_at"])
    if change["what"] == "published":
        return parse_time(document["published_at"] or "")
    return parse_time(document["retracted_at"] or "")


def change_content(change: PublicChange, settings: Settings, words: FeedWords) -> str:
    document = change["statement"]
    if change["what"] == "retracted":
        return withdrawal_notice(document, settings, words)
    if is_withdrawn(document):
        return f"<p>{html.escape(words.later_withdrawn)}</p>"
    note = f"<p>{html.escape(change['note'])}</p>" if change["note"] else ""
    return f"{note}<pre>{html.escape(change['diff'])}</pre>"


# The feed formats

Renderer = Callable[
    [FeedSpec, Sequence[StatementDocument], Settings, FeedExtras | None], bytes
]


@dataclass(frozen=True)
class FeedFormat:
    """A format every feed is served in: /feeds/all.<extension> and so on."""

    name: str  # as readers know it: "Atom"
    extension: str
    media_type: str
    charset: str | None  # None where the media type defines its own (JSON)
    render: Renderer
    carries_tombstones: bool = False  # RFC 6721 tombstones and RFC 5005 archives

    @property
    def content_type(self) -> str:
        charset = f"; charset={self.charset}" if self.charset else ""
        return self.media_type + charset


ATOM = FeedFormat(
    "Atom",
    "atom",
    "application/atom+xml",
    "utf-8",
    atom_feed,
    carries_tombstones=True,
)
RSS = FeedFormat("RSS", "rss", "application/rss+xml", "utf-8", rss_feed)
JSON_FEED = FeedFormat("JSON Feed", "json", "application/feed+json", None, json_feed)

FEED_FORMATS: dict[str, FeedFormat] = {}


def register_feed_format(feed_format: FeedFormat) -> None:
    """Serves and announces every feed in this format too (keyed by extension)."""
    FEED_FORMATS[feed_format.extension] = feed_format


for _format in (ATOM, RSS, JSON_FEED):
    register_feed_format(_format)
