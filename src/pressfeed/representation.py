"""The statement document: a statement as the API, the views, the feeds, the
pages and the audit show it, as JSON-ready values."""

from __future__ import annotations

import difflib
from typing import Literal, NotRequired, TypedDict, cast

from pressfeed.aggregates import RETRACTED, Statement, Status
from pressfeed.rendering import first_paragraph_text, markdown_to_html
from pressfeed.times import iso
from pressfeed.urls import absolute, statement_path


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
    last_modified: NotRequired[str]  # the views' HTTP Last-Modified of this version
    url: NotRequired[str]


class PublicChange(TypedDict):
    """A change the public saw: a publication, a major amendment, a withdrawal."""

    position: int
    version: int
    what: Literal["published", "amended", "retracted"]
    note: str  # the change note or the reason of the withdrawal
    diff: str
    statement: StatementDocument


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
    return [f"# {title}\n", "\n", *(f"{line}\n" for line in body.splitlines())]


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
