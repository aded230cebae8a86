"""Index aggregates: saved atomically with a statement, their ids make duplicates
impossible (a second one with the same id is a conflict in the event store)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class SlugIndex(Aggregate):
    """Reserves a slug for one statement, for good."""

    @staticmethod
    def create_id(slug: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/pressfeed/slugs/{slug}")

    @event("Reserved")
    def __init__(self, slug: str, statement_id: UUID) -> None:
        self.slug = slug
        self.statement_id = statement_id


class CommandReceipt(Aggregate):
    """Remembers the answer to a command sent with an Idempotency-Key.

    Keyed by the caller and the key, so one caller's keys never meet another's;
    the fingerprint tells a true retry from a different command reusing a key.
    """

    @staticmethod
    def create_id(actor: str, key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/pressfeed/idempotency/{actor}/{key}")

    @event("Issued")
    def __init__(
        self,
        actor: str,
        key: str,
        fingerprint: str,
        command: str,
        statement_id: UUID,
        statement_version: int,
    ) -> None:
        self.actor = actor
        self.key = key
        self.fingerprint = fingerprint
        self.command = command
        self.statement_id = statement_id
        self.statement_version = statement_version
