"""What auditors read: every version of a statement, who changed it, when and why,
the state at any time, the whole log for export, and the chain that proves it.

Read straight from the event store (not from the views), so it shows what was
recorded, whatever the views say.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from pressfeed.aggregates import PUBLISHED, RETRACTED, Statement
from pressfeed.application import PressOffice, StatementNotFound
from pressfeed.ledger import Ledger
from pressfeed.representation import statement_diff, statement_document
from pressfeed.times import iso

COMPARED_FIELDS = (
    "slug", "kind", "title", "body", "language", "tags", "summary", "speaker",
    "status", "publish_at",
    "published_at", "planned_publication_at", "retracted_at", "retraction_reason",
    "translation_group",
)  # fmt: skip


def jsonable(value: Any) -> Any:
    """Event attributes as JSON values: times in RFC 3339, ids as strings."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def event_type(event: Any) -> str:
    return type(event).__name__


def event_payload(event: Any) -> dict[str, Any]:
    """What the event says, without the envelope (id, version, time)."""
    hidden = {"originator_id", "originator_version", "timestamp", "originator_topic"}
    return {k: jsonable(v) for k, v in vars(event).items() if k not in hidden}


def changed_fields(before: Statement | None, after: Statement) -> dict[str, Any]:
    old: dict[str, Any] = dict(statement_document(before)) if before else {}
    new: dict[str, Any] = dict(statement_document(after))
    return {
        name: {"from": old.get(name), "to": new[name]}
        for name in COMPARED_FIELDS
        if old.get(name) != new[name]
    }


class AuditTrail:
    def __init__(self, app: PressOffice, ledger: Ledger) -> None:
        self.app = app
        self.ledger = ledger

    def _events_of(self, statement_id: UUID) -> list[Statement.Event]:
        """The statement's events, oldest first."""
        return cast(list[Statement.Event], list(self.app.events.get(statement_id)))

    def history(self, statement_id: UUID) -> list[dict[str, Any]]:
        """Every event of a statement, oldest first, with who, when, why and the diff."""
        self.app.get_statement(statement_id)  # 404 for anything not a statement
        links = {link.version: link for link in self.ledger.links_of(statement_id)}
        entries: list[dict[str, Any]] = []
        before: Statement | None = None
        for event in self._events_of(statement_id):
            after = cast(Statement, event.mutate(copy.deepcopy(before)))
            link = links.get(event.originator_version)
            payload = event_payload(event)
            entries.append(
                {
                    "position": link.position if link else None,
                    "version": event.originator_version,
                    "type": event_type(event),
                    "recorded_at": iso(event.timestamp),
                    "actor": payload.get("actor"),
                    "change_note": payload.get("change_note"),
                    "reason": payload.get("reason"),
                    "minor": payload.get("minor"),
                    "fields": changed_fields(before, after),
                    "diff": statement_diff(before, after, after.version),
                    "hash": link.hash if link else None,
                    "prev_hash": link.prev_hash if link else None,
                }
            )
            before = after
        return entries

    def version(self, statement_id: UUID, version: int) -> Statement:
        statement = self.app.get_statement(statement_id)
        if not 1 <= version <= statement.version:
            raise StatementNotFound(f"{statement_id} has no version {version}")
        return self.app.get_statement(statement_id, version)

    def as_of(self, statement_id: UUID, moment: datetime) -> Statement:
        """The statement as it stood at a time (by when its events were recorded)."""
        version = 0
        for event in self._events_of(statement_id):
            if event.timestamp > moment:
                break
            version = event.originator_version
        if version == 0:
            raise StatementNotFound(f"{statement_id} did not exist at {iso(moment)}")
        return self.app.get_statement(statement_id, version)

    def public_version(self, statement_id: UUID, version: int) -> Statement:
        """A version that was public, of a statement not withdrawn; else not found
        (a version that showed readers nothing new is not one of its own)."""
        current = self.app.get_statement(statement_id)
        if current.status == RETRACTED:
            raise StatementNotFound("The statement was withdrawn.")
        found = self.version(statement_id, version)
        if found.status != PUBLISHED:
            raise StatementNotFound(f"Version {version} was never public.")
        if self.shown_version(statement_id, version) != version:
            raise StatementNotFound(f"Version {version} showed nothing new.")
        return found

    def public_as_of(
        self, statement_id: UUID, moment: datetime
    ) -> tuple[Statement, datetime]:
        """The public state at a time, and when that state began (Memento)."""
        statement = self.as_of(statement_id, moment)
        if statement.status != PUBLISHED:
            raise StatementNotFound(f"The statement was not public at {iso(moment)}.")
        shown = self.shown_version(statement_id, statement.version)
        if shown != statement.version:
            statement = self.app.get_statement(statement_id, shown)
        return statement, statement.modified_on

    def shown_version(self, statement_id: UUID, version: int) -> int:
        """The version readers saw at this one: joining a group of translations
        shows nothing until a translation is published (and must not tell
        when an embargoed one was prepared), so it is the version before."""
        kinds = {e.originator_version: type(e) for e in self._events_of(statement_id)}
        while version > 1 and kinds.get(version) is Statement.LinkedToTranslations:
            version -= 1
        return version

    def log(
        self, after: int = 0, limit: int | None = None, *, stored: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The whole log, in order, one record per event, read a batch at a time,
        with its chain link (prev_hash, hash); stored=True adds the event's
        stored topic and state (base64): what the link hashes (ledger.chain_hash),
        and what `pressfeed restore` brings back byte for byte."""
        links = self.ledger.links(after)
        for count, notification in enumerate(self.ledger.events(after)):
            if limit is not None and count >= limit:
                return
            link = next(links, None)
            if link is not None and link.position != notification.id:
                link = None
            event: Any = self.app.mapper.to_domain_event(notification)
            payload = event_payload(event)
            record = {
                "position": notification.id,
                "statement_id": str(notification.originator_id),
                "version": notification.originator_version,
                "type": event_type(event),
                "time": iso(event.timestamp),
                "actor": payload.get("actor"),
                "payload": payload,
                "prev_hash": link.prev_hash if link else None,
                "hash": link.hash if link else None,
            }
            if stored:
                record["topic"] = notification.topic
                record["state"] = base64.b64encode(bytes(notification.state)).decode()
            yield record
