"""Index aggregates: saved atomically with a statement, their ids make duplicates
impossible (a second one with the same id is a conflict in the event store)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from pressfeed.aggregates.errors import TranslationTaken


class SlugIndex(Aggregate):
    """Reserves a slug for one statement, for good."""

    @staticmethod
    def create_id(slug: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/pressfeed/slugs/{slug}")

    @event("Reserved")
    def __init__(self, slug: str, statement_id: UUID) -> None:
        self.slug = slug
        self.statement_id = statement_id


class TranslationSlot(Aggregate):
    """One language's place in a group of translations, held by one statement.

    Saved in the same transaction as the statement that takes or frees it: two
    writers adding a statement in the same language to the same group both
    write this aggregate's next version, and the event store keeps only one.
    """

    @staticmethod
    def create_id(group: UUID, language: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/pressfeed/translations/{group}/{language}")

    @event("Taken")
    def __init__(self, group: UUID, language: str, statement_id: UUID) -> None:
        self.group = group
        self.language = language
        self.statement_id: UUID | None = statement_id

    def take(self, statement_id: UUID) -> None:
        """Gives the free place to statement_id (again: a no-op)."""
        if self.statement_id == statement_id:
            return
        if self.statement_id is not None:
            raise TranslationTaken(
                f"The translations already hold a statement in {self.language}."
            )
        self._retake(statement_id=statement_id)

    @event("Retaken")
    def _retake(self, statement_id: UUID) -> None:
        self.statement_id = statement_id

    @event("Freed")
    def free(self) -> None:
        self.statement_id = None


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
