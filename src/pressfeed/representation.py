"""The statement document: a statement as the API, the views, the feeds, the
pages and the audit show it, as JSON-ready values."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, NotRequired, TypedDict, cast

from pressfeed.aggregates import RETRACTED, Statement, Status
from pressfeed.rendering import first_paragraph_text, markdown_to_html
from pressfeed.times import iso, parse_time
from pressfeed.urls import (
    absolute,
    audit_checkpoint_path,
    audit_key_path,
    statement_path,
    statement_receipt_path,
)


class ChangeNoteDocument(TypedDict):
    version: int
    at: str
    note: str
    minor: bool
    public: bool  # false for notes made before publication


class ReviewDocument(TypedDict):
    """Who wrote the current text, who asked for review, who approved it."""

    text_author: str
    requested_by: str | None
    requested_at: str | None
    approved_by: str | None
    in_review: bool


class ReceiptReference(TypedDict):
    """Where a statement's current version sits in the log's Merkle tree, and
    where its receipt (the signed checkpoint and the inclusion proof) is. Only
    what never changes for this version: the tree grows with every event, so
    the tree size and the proof are in the receipt, not here."""

    version: int
    leaf_index: int
    leaf: str  # the event's chain hash, the tree's leaf (hex)
    leaf_hash: str  # SHA-256(0x00 || leaf), RFC 9162 2.1.1 (hex)
    url: str | None  # the receipt; None while the statement was never public
    checkpoint_url: str
    key_url: str


class TranslationDocument(TypedDict):
    """One translation of a statement, by language."""

    id: str
    slug: str
    url: str
    status: Status
    possibly_out_of_date: bool  # this statement had a major amendment since


class StatementDocument(TypedDict):
    """A statement at one version; times are RFC 3339 strings in UTC."""

    id: str
    slug: str
    kind: str
    title: str
    body: str
    body_html: NotRequired[str]  # rendered when read: the views store no HTML
    language: str
    tags: list[str]
    summary: NotRequired[str | None]  # absent from views stored before it existed
    speaker: NotRequired[str | None]
    status: Status
    version: int
    created_at: str
    published_at: str | None
    updated_at: str
    publish_at: str | None
    planned_publication_at: str | None
    retracted_at: str | None
    retraction_reason: str | None
    change_notes: list[ChangeNoteDocument]
    review: ReviewDocument
    translation_group: NotRequired[str | None]  # shared by its translations
    translations: NotRequired[dict[str, TranslationDocument]]  # added when read
    last_modified: NotRequired[str]  # the views' HTTP Last-Modified of this version
    url: NotRequired[str]
    receipt: NotRequired[ReceiptReference]  # the API's: see receipt_reference


class PublicChange(TypedDict):
    """A change the public saw: a publication, a major amendment, a withdrawal."""

    position: int
    version: int
    what: Literal["published", "amended", "retracted"]
    note: str  # the change note or the reason of the withdrawal
    diff: str
    statement: StatementDocument


def receipt_reference(
    document: StatementDocument, leaf_index: int, leaf: str, base_url: str
) -> ReceiptReference:
    public = document["published_at"] is not None
    return {
        "version": document["version"],
        "leaf_index": leaf_index,
        "leaf": leaf,
        "leaf_hash": hashlib.sha256(b"\x00" + bytes.fromhex(leaf)).hexdigest(),
        "url": (
            absolute(base_url, statement_receipt_path(document["slug"]))
            if public
            else None
        ),
        "checkpoint_url": absolute(base_url, audit_checkpoint_path()),
        "key_url": absolute(base_url, audit_key_path()),
    }


def statement_document(statement: Statement, *, html: bool = True) -> StatementDocument:
    """Everything about a statement except its URL; the views store it without
    body_html, which with_body_html adds when read."""
    document: StatementDocument = {
        "id": str(statement.id),
        "slug": statement.slug,
        "kind": statement.kind,
        "title": statement.title,
        "body": statement.body,
        "language": statement.language,
        "tags": list(statement.tags),
        "summary": statement.summary,
        "speaker": statement.speaker,
        "status": statement.status,
        "version": statement.version,
        "created_at": iso(statement.drafted_at),
        "published_at": iso(statement.published_at),
        "updated_at": iso(statement.updated_at),
        "publish_at": iso(statement.publish_at),
        "planned_publication_at": iso(statement.planned_publication_at),
        "retracted_at": iso(statement.retracted_at),
        "retraction_reason": statement.retraction_reason,
        "change_notes": [
            {
                "version": note.version,
                "at": iso(note.at),
                "note": note.note,
                "minor": note.minor,
                "public": note.public,
            }
            for note in statement.change_notes
        ],
        "review": {
            "text_author": statement.text_author,
            "requested_by": statement.review_requested_by,
            "requested_at": iso(statement.review_requested_at),
            "approved_by": statement.approved_by,
            "in_review": statement.in_review,
        },
        "translation_group": (
            None
            if statement.translation_group is None
            else str(statement.translation_group)
        ),
    }
    return with_body_html(document) if html else document


def with_body_html(document: StatementDocument) -> StatementDocument:
    """The document with its body rendered to safe HTML, placed after the body."""
    rendered: dict[str, object] = {}
    for key, value in document.items():
        if key != "body_html":
            rendered[key] = value
        if key == "body":
            rendered["body_html"] = markdown_to_html(document["body"])
    return cast(StatementDocument, rendered)


def with_url(document: StatementDocument, base_url: str) -> StatementDocument:
    """The document as the API shows it: its public URL added, the views' own
    Last-Modified left out."""
    shown: StatementDocument = {
        **document,
        "url": absolute(base_url, statement_path(document["slug"])),
    }
    shown.pop("last_modified", None)
    return shown


def with_translations(
    document: StatementDocument,
    translations: Iterable[StatementDocument],
    base_url: str,
) -> StatementDocument:
    """The document with its translations by language; each flagged possibly out
    of date when this statement had a major amendment after that translation
    last changed."""
    amended = last_major_amendment(document)
    shown: dict[str, TranslationDocument] = {}
    for other in translations:
        shown[other["language"]] = {
            "id": other["id"],
            "slug": other["slug"],
            "url": absolute(base_url, statement_path(other["slug"])),
            "status": other["status"],
            "possibly_out_of_date": amended is not None
            and amended > parse_time(other["updated_at"]),
        }
    return {**document, "translations": shown}


def last_major_amendment(document: StatementDocument) -> datetime | None:
    """When the text last had a major (not minor) amendment, if ever."""
    majors = [parse_time(n["at"]) for n in document["change_notes"] if not n["minor"]]
    return max(majors) if majors else None


def amended_translations(
    document: StatementDocument, translations: Iterable[StatementDocument]
) -> list[str]:
    """The languages of translations amended (major) after this statement last
    changed: this one may be out of date against them."""
    updated = parse_time(document["updated_at"])
    return sorted(
        other["language"]
        for other in translations
        if (amended := last_major_amendment(other)) is not None and amended > updated
    )


TEASER_LENGTH = 280


def cut_at_word(text: str, limit: int) -> str:
    """The text, or its opening words up to limit characters and an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def teaser(document: StatementDocument, limit: int = TEASER_LENGTH) -> str:
    """What lists, the front page and feed summaries show of a statement: its
    summary, or else its first paragraph cut at a word boundary (plain text)."""
    summary = document.get("summary")
    if summary:
        return summary
    body_html = document.get("body_html") or markdown_to_html(document["body"])
    return cut_at_word(first_paragraph_text(body_html), limit)


def is_withdrawn(document: StatementDocument) -> bool:
    return document["status"] == RETRACTED


def public_notes(document: StatementDocument) -> list[ChangeNoteDocument]:
    """Change notes the public sees: those of major amendments after publication."""
    return [n for n in document["change_notes"] if n["public"] and not n["minor"]]


def _text_lines(title: str, body: str) -> list[str]:
    """Title and body as lines that each end in a newline, so text added after
    the last line does not show that line as removed and added again."""
    # One line each: a title stored before titles were one line may hold several.
    heading = [f"# {line}\n" for line in title.splitlines()]
    return [*heading, "\n", *(f"{line}\n" for line in body.splitlines())]


def _unified_diff(
    before: list[str], after: list[str], fromfile: str, tofile: str
) -> str:
    lines = difflib.unified_diff(before, after, fromfile=fromfile, tofile=tofile)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def statement_diff(before: Statement | None, after: Statement, version: int) -> str:
    """Title and body as a unified diff from one version to the next."""
    return _unified_diff(
        _text_lines(before.title, before.body) if before else [],
        _text_lines(after.title, after.body),
        f"version {before.version}" if before else "nothing",
        f"version {version}",
    )


def publication_diff(document: StatementDocument) -> str:
    """A statement document's text as a diff from nothing: what its publication
    made public."""
    return _unified_diff(
        [],
        _text_lines(document["title"], document["body"]),
        "nothing",
        f"version {document['version']}",
    )


def text_diff(before: StatementDocument, title: str, body: str, label: str) -> str:
    """The unified diff from a document's title and body to new ones: what an
    amendment about to be saved changes."""
    return _unified_diff(
        _text_lines(before["title"], before["body"]),
        _text_lines(title, body),
        f"version {before['version']}",
        label,
    )
