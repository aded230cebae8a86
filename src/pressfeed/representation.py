"""The statement as the API, the views and the audit show it (DESIGN.md, 'representation')."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from typing import Any

from pressfeed.aggregates import Statement
from pressfeed.rendering import markdown_to_html


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def statement_document(statement: Statement, *, html: bool = True) -> dict[str, Any]:
    """Everything about a statement except its URL, as JSON-ready values; the
    views store it without body_html, which with_body_html adds when read."""
    document = {
        "id": str(statement.id),
        "slug": statement.slug,
        "kind": statement.kind,
        "title": statement.title,
        "body": statement.body,
        "language": statement.language,
        "tags": list(statement.tags),
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
    }
    return with_body_html(document) if html else document


def with_body_html(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its body rendered to safe HTML, placed after the body."""
    rendered: dict[str, Any] = {}
    for key, value in document.items():
        if key != "body_html":
            rendered[key] = value
        if key == "body":
            rendered["body_html"] = markdown_to_html(value)
    return rendered


def statement_url(base_url: str, slug: str) -> str:
    return f"{base_url}/statements/{slug}"


def with_url(document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The document plus its public URL."""
    return {**document, "url": statement_url(base_url, document["slug"])}


def _text_lines(title: str, body: str) -> list[str]:
    return [f"# {title}\n", "\n", *body.splitlines(keepends=True)]


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


def publication_diff(document: dict[str, Any]) -> str:
    """A statement document's text as a diff from nothing: what its publication
    made public."""
    return _unified_diff(
        [],
        _text_lines(document["title"], document["body"]),
        "nothing",
        f"version {document['version']}",
    )
