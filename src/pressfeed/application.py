"""The press office's commands, one method each, on an eventsourcing Application."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Recording,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import EnvType
from slugify import slugify as transliterated_slug

from pressfeed.aggregates import (
    SCHEDULED,
    AlreadyPublished,
    ChangeNote,
    CommandReceipt,
    FrontPage,
    NothingFeatured,
    NotScheduled,
    SlugIndex,
    Statement,
    StatementError,
    StatementRetracted,
    TranslationSlot,
    TranslationTaken,
)
from pressfeed.aggregates.statement import utc
from pressfeed.config import DEFAULT_KINDS
from pressfeed.ledger import Ledger

# Aggregates per transaction in batch paths: one save() of about 4,000 hung in
# psycopg's pipeline on PostgreSQL, 1,000 is safe and as fast.
SAVE_CHUNK = 1000
# Derived slugs tried by one create: more than that many writers racing for one
# title's next suffix is not a race, it is a fault.
SLUG_ATTEMPTS = 100


class StatementNotFound(Exception):
    """No statement has that id or slug."""


class UnknownKind(StatementError):
    """The kind is not one the press office publishes."""


class UnknownLanguage(StatementError):
    """The language is not one the press office publishes in."""


class UnknownOriginal(StatementError):
    """translation_of names no statement."""


class SlugTaken(StatementError):
    """Another statement already has that slug."""


class ImportConflict(Exception):
    """Another writer saved a slug or a line of an import while it ran."""


class StaleVersion(Exception):
    """The statement changed since the version the caller read."""

    def __init__(self, current_version: int) -> None:
        super().__init__(f"The statement is now at version {current_version}.")
        self.current_version = current_version


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was already used for a different command."""


class ImportRefused(Exception):
    """One statement of an import broke a rule, so nothing was imported."""

    def __init__(self, index: int, error: StatementError) -> None:
        super().__init__(str(error))
        self.index = index  # of the statement in the sequence given
        self.error = error


@dataclass(frozen=True)
class IdempotencyKey:
    """A caller's key for one command, with a fingerprint of that command."""

    actor: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class CommandResult:
    """The statement as a command left it; replayed when an idempotent retry."""

    command: str
    statement: Statement
    replayed: bool = False


@dataclass(frozen=True)
class NewStatement:
    """What a press officer gives to create a statement."""

    title: str
    body: str
    kind: str
    language: str = "en"
    tags: Sequence[str] = ()
    slug: str | None = None
    draft: bool = False
    publish_at: datetime | None = None
    published_at: datetime | None = None
    translation_of: str | None = None  # the id or slug of the statement translated
    summary: str | None = None
    speaker: str | None = None


# Fields added after imports were first made: left out of a line's hash while
# empty, so a line that does not use them keeps the id it always had.
LATER_FIELDS = ("translation_of", "summary", "speaker")
# A line's fields in the order of the class (what dataclasses.asdict would give,
# without its deep copies: the hash of a line is the same).
NEW_FIELDS = dataclasses.fields(NewStatement)


class ChangeNoteAsDict(Transcoding):
    type = ChangeNote
    name = "change_note"

    def encode(self, obj: ChangeNote) -> dict[str, Any]:
        return {
            "version": obj.version,
            "at": obj.at,
            "note": obj.note,
            "minor": obj.minor,
            "public": obj.public,
        }

    def decode(self, data: dict[str, Any]) -> ChangeNote:
        return ChangeNote(**data)


def utc_now() -> datetime:
    return datetime.now(UTC)


def slugify(text: str) -> str:
    """An ASCII slug from a title, transliterated (python-slugify, text-unidecode):
    'Visa Hours (2026)' -> 'visa-hours-2026', 'Комментарий посольства' ->
    'kommentarii-posolstva'."""
    return transliterated_slug(text, max_length=80)


def import_ids(statements: Sequence[NewStatement]) -> list[UUID]:
    """The id of each statement of an import: a uuid5 of a hash of what its line
    says and of how many identical lines came before it in the file. Importing
    the same file again (after a crash, or by mistake) gives the same ids, so
    the lines already saved are found; adding or removing other lines changes
    no line's id."""
    seen: Counter[str] = Counter()
    ids = []
    for new in statements:
        fields = {field.name: getattr(new, field.name) for field in NEW_FIELDS}
        for name in LATER_FIELDS:
            if fields[name] is None:
                del fields[name]
        content = json.dumps(
            fields,
            sort_keys=True,
            default=lambda t: utc(t).isoformat(),
        )
        digest = hashlib.sha256(content.encode()).hexdigest()
        ids.append(uuid5(NAMESPACE_URL, f"/pressfeed/imports/{digest}/{seen[digest]}"))
        seen[digest] += 1
    return ids


def _written(writing: Future[int], progress: Callable[[int], None]) -> int:
    """How many statements a finished write saved, told to progress too."""
    statements = writing.result()
    progress(statements)
    return statements


def is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


class PressOffice(Application[UUID]):
    """The commands a press office issues, and the reads that need the event store."""

    log_section_size = 1000

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        kinds: Iterable[str] = DEFAULT_KINDS,
        languages: Iterable[str] = ("en",),
        clock: Callable[[], datetime] = utc_now,
        second_pair_of_eyes: bool = False,
    ) -> None:
        super().__init__(env)
        self.kinds = tuple(kinds)
        self.languages = tuple(languages)
        self.clock = clock
        self.second_pair_of_eyes = second_pair_of_eyes

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ChangeNoteAsDict())

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Application.save, with each aggregate's events collected directly.
        The library tells aggregates from events by isinstance against two
        runtime protocols, which costs about 30 µs an aggregate on Python 3.11
        (a create saves three or four aggregates)."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)
        return recordings

    # Commands

    def create_statement(
        self,
        new: NewStatement,
        *,
        actor: str,
        idempotency: IdempotencyKey | None = None,
    ) -> CommandResult:
        """Drafts a statement, and schedules or publishes it as asked."""
        if replay := self.recall(idempotency):
            return replay
        self._check_kind(new.kind)
        self._check_language(new.language)
        for slug in itertools.islice(self._slug_candidates(new), SLUG_ATTEMPTS):
            statement = self._draft(new, slug, actor)
            others: list[Any] = [SlugIndex(slug, statement.id)]
            if new.translation_of is not None:
                others += self._join_translations(statement, new.translation_of, actor)
            try:
                self._save_command("create", statement, idempotency, *others)
            except IntegrityError:
                # A lost race: for the slug, the original's version or the
                # language's place among its translations. Look again.
                if replay := self.recall(idempotency):
                    return replay
                if new.slug is not None and self._slug_taken(slug):
                    raise SlugTaken(f"The slug {slug!r} is taken.") from None
                continue
            return CommandResult("create", statement)
        raise SlugTaken("No free slug could be derived from the title.")

    def unlink_translation(
        self, statement_id: UUID, *, actor: str, expected_version: int | None = None
    ) -> CommandResult:
        """Takes a statement out of its group of translations (the others stay)."""

        def unlink(statement: Statement) -> list[Any]:
            group = statement.translation_group
            statement.unlink_translation(actor=actor, now=self.clock())
            assert group is not None  # unlink_translation refused otherwise
            slot: Any = self.repository.get(
                TranslationSlot.create_id(group, statement.language)
            )
            slot.free()
            return [slot]

        return self._change("unlink", statement_id, expected_version, None, unlink)

    def amend(
        self,
        statement_id: UUID,
        *,
        expected_version: int | None,
        changes: dict[str, Any],
        change_note: str | None,
        minor: bool,
        actor: str,
        idempotency: IdempotencyKey | None = None,
    ) -> CommandResult:
        """Amends title, body, kind, tags, summary or speaker of the version the
        caller read (None: of whatever version is current)."""
        if "kind" in changes:
            self._check_kind(changes["kind"])
        return self._change(
            "amend",
            statement_id,
            expected_version,
            idempotency,
            lambda s: s.amend(
                changes=changes,
                change_note=change_note,
                minor=minor,
                actor=actor,
                now=self.clock(),
                second_pair_of_eyes=self.second_pair_of_eyes,
            ),
        )

    def publish(
        self,
        statement_id: UUID,
        *,
        actor: str,
        idempotency: IdempotencyKey | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Publishes a draft or a scheduled statement now (approving it, when it
        was in review), of the version the caller read if given."""
        return self._change(
            "publish",
            statement_id,
            expected_version,
            idempotency,
            lambda s: s.publish(
                actor=actor,
                now=self.clock(),
                second_pair_of_eyes=self.second_pair_of_eyes,
            ),
        )

    def publish_embargoed(
        self, statement_id: UUID, *, planned_at: datetime, actor: str = "scheduler"
    ) -> CommandResult | None:
        """Publishes a scheduled statement once its embargo is over (never before).

        Returns None when there is nothing to do: another scheduler published it
        first, or it was rescheduled, unscheduled or retracted meanwhile.
        """
        try:
            return self._change(
                "publish",
                statement_id,
                None,
                None,
                lambda s: s.publish_as_scheduled(
                    planned_at=planned_at, actor=actor, now=self.clock()
                ),
            )
        except (AlreadyPublished, NotScheduled, StatementRetracted):
            return None

    def schedule(
        self,
        statement_id: UUID,
        *,
        publish_at: datetime,
        actor: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Sets or moves the embargo of a draft or scheduled statement (approving
        it, when it was in review), of the version the caller read if given."""
        return self._change(
            "schedule",
            statement_id,
            expected_version,
            None,
            lambda s: s.schedule(
                publish_at=publish_at,
                actor=actor,
                now=self.clock(),
                second_pair_of_eyes=self.second_pair_of_eyes,
            ),
        )

    def unschedule(
        self, statement_id: UUID, *, actor: str, expected_version: int | None = None
    ) -> CommandResult:
        """Cancels the embargo: back to draft (of that version, if given)."""
        return self._change(
            "unschedule",
            statement_id,
            expected_version,
            None,
            lambda s: s.unschedule(actor=actor),
        )

    def retract(
        self,
        statement_id: UUID,
        *,
        expected_version: int | None,
        reason: str,
        actor: str,
        idempotency: IdempotencyKey | None = None,
    ) -> CommandResult:
        """Withdraws the statement for good (expected_version None: whatever
        version is current)."""
        return self._change(
            "retract",
            statement_id,
            expected_version,
            idempotency,
            lambda s: s.retract(
                reason=reason,
                actor=actor,
                now=self.clock(),
                second_pair_of_eyes=self.second_pair_of_eyes,
            ),
        )

    def submit_for_review(
        self, statement_id: UUID, *, actor: str, expected_version: int | None = None
    ) -> CommandResult:
        """A writer asks a publisher to approve a draft."""
        return self._change(
            "submit",
            statement_id,
            expected_version,
            None,
            lambda s: s.submit_for_review(actor=actor, now=self.clock()),
        )

    def approve(
        self,
        statement_id: UUID,
        *,
        actor: str,
        expected_version: int | None = None,
        publish_at: datetime | None = None,
    ) -> CommandResult:
        """A publisher approves a statement in review and publishes it now, or
        schedules it for publish_at: the approval and the publication (or
        embargo) are two events saved together. An embargoed statement held
        for review keeps its embargo (published now only if it has passed)."""

        def approve_and_release(statement: Statement) -> None:
            now = self.clock()
            eyes = self.second_pair_of_eyes
            embargo = statement.publish_at if statement.status == SCHEDULED else None
            statement.approve(actor=actor, now=now, second_pair_of_eyes=eyes)
            if publish_at is None and embargo is not None and embargo > now:
                return  # held for review: approved, it keeps its embargo
            if publish_at is None:
                statement.publish(actor=actor, now=now, second_pair_of_eyes=eyes)
            else:
                statement.schedule(
                    publish_at=publish_at,
                    actor=actor,
                    now=now,
                    second_pair_of_eyes=eyes,
                )

        return self._change(
            "approve", statement_id, expected_version, None, approve_and_release
        )

    def import_statements(
        self,
        statements: Sequence[NewStatement],
        *,
        actor: str,
        progress: Callable[[int], None] = lambda _: None,
    ) -> list[Statement]:
        """Saves many statements, SAVE_CHUNK per transaction, and returns those
        it saved; refuses taken slugs first, and everything when one statement
        breaks a rule (ImportRefused names which).

        Resumable: each statement's id derives from its line (import_ids), and
        its first event is saved in the same transaction as its slug, so after a
        crash (kill -9, a lost connection) the same import saves only the lines
        not saved yet, with the slugs the first run would have given them.
        progress is first told how many lines were saved before, if any.
        """
        for new in statements:
            self._check_kind(new.kind)
            self._check_language(new.language)
        self._refuse_duplicate_slugs(statements)
        ids = import_ids(statements)
        saved_before = Ledger(self.recorder).recorded(ids)
        if saved_before:
            progress(len(saved_before))
        pending, saved_translations = [], []
        for index, (new, statement_id) in enumerate(zip(statements, ids, strict=True)):
            if statement_id not in saved_before:
                pending.append((index, new, statement_id))
            elif new.translation_of is not None:
                saved_translations.append((index, new.translation_of))
        slugs = self._unique_import_slugs([new for _, new, _ in pending])
        drafted = []
        for (index, new, statement_id), slug in zip(pending, slugs, strict=True):
            try:
                drafted.append(
                    self._draft(
                        new, slug, actor, imported=True, statement_id=statement_id
                    )
                )
            except StatementError as error:
                raise ImportRefused(index, error) from error
        linked = self._link_imported_translations(
            [(index, new) for index, new, _ in pending],
            drafted,
            actor,
            saved_translations=saved_translations,
        )
        batches = []
        for start in range(0, len(drafted), SAVE_CHUNK):
            chunk = drafted[start : start + SAVE_CHUNK]
            # The originals from the store and the languages' places go with
            # the first chunk; saved again, a place taken by the same statement
            # is taken again without change.
            extras = linked if start == 0 else []
            indexes = [SlugIndex(s.slug, s.id) for s in chunk]
            batches.append((len(chunk), [*chunk, *indexes, *extras]))
        self._save_in_turn(batches, progress)
        return drafted

    def saved_of_import(self, statements: Sequence[NewStatement]) -> int:
        """How many of an import's statements the log holds (after a run that
        was interrupted, say)."""
        return len(Ledger(self.recorder).recorded(import_ids(statements)))

    def _save_in_turn(
        self,
        batches: Sequence[tuple[int, Sequence[Aggregate]]],
        progress: Callable[[int], None],
    ) -> None:
        """Saves each batch of (statements, their aggregates) in a transaction
        of its own, in order. A thread writes one batch while the next one's
        events are encoded: the database works with the GIL released. (The
        events go straight to the recorder: imports keep no aggregate cache,
        snapshots or followers for Application.save to serve.)"""
        saved = 0

        def write(statements: int, stored: list[StoredEvent]) -> int:
            try:
                self.recorder.insert_events(stored)
            except IntegrityError:
                raise ImportConflict(
                    f"{saved} statements were saved, then another writer took a "
                    "slug or saved a line of this import (the same import running "
                    "twice?). Run the import again to save the rest."
                ) from None
            return statements

        with ThreadPoolExecutor(max_workers=1) as writer:
            writing: Future[int] | None = None
            for statements, aggregates in batches:
                stored = [
                    self.mapper.to_stored_event(event)
                    for aggregate in aggregates
                    for event in aggregate.collect_events()
                ]
                if writing is not None:
                    saved += _written(writing, progress)
                writing = writer.submit(write, statements, stored)
            if writing is not None:
                _written(writing, progress)

    def _link_imported_translations(
        self,
        lines: Sequence[tuple[int, NewStatement]],
        drafted: Sequence[Statement],
        actor: str,
        saved_translations: Sequence[tuple[int, str]] = (),
    ) -> list[Any]:
        """Links each imported statement that names translation_of (a statement
        of the same import by slug, or a stored one by id or slug) into its
        group; returns the stored originals and the places to save.

        saved_translations are the (index, translation_of) of lines an earlier,
        interrupted run saved: an original among the lines still to save is
        linked as that run would have linked it, had it saved it too."""
        in_import = {s.slug: s for s in drafted} | {str(s.id): s for s in drafted}
        loaded: dict[str, Statement] = {}
        slots: dict[UUID, Any] = {}
        now = self.clock()

        def original_of(reference: str) -> Statement:
            if reference in in_import:
                return in_import[reference]
            if reference not in loaded:
                try:
                    loaded[reference] = self.find_statement(reference)
                except StatementNotFound:
                    raise UnknownOriginal(
                        f"translation_of: no statement {reference!r}."
                    ) from None
            return loaded[reference]

        def take_place(statement: Statement) -> None:
            assert statement.translation_group is not None
            slot_id = TranslationSlot.create_id(
                statement.translation_group, statement.language
            )
            if slot_id in slots:
                slots[slot_id].take(statement.id)
            else:
                slots[slot_id] = self._take_slot(statement)

        for index, reference in saved_translations:
            original = in_import.get(reference)
            if original is not None and original.translation_group is None:
                try:
                    original.link_translation(
                        group=original.id, of=original.id, actor=actor, now=now
                    )
                    take_place(original)
                except StatementError as error:
                    raise ImportRefused(index, error) from error
        for (index, new), statement in zip(lines, drafted, strict=True):
            if new.translation_of is None:
                continue
            try:
                original = original_of(new.translation_of)
                original.check_translatable()
                if original.translation_group is None:
                    original.link_translation(
                        group=original.id, of=original.id, actor=actor, now=now
                    )
                    take_place(original)
                assert original.translation_group is not None
                statement.link_translation(
                    group=original.translation_group,
                    of=original.id,
                    actor=actor,
                    now=now,
                )
                take_place(statement)
            except StatementError as error:
                raise ImportRefused(index, error) from error
        return [*loaded.values(), *slots.values()]

    def feature(self, id_or_slug: str, *, actor: str) -> Statement:
        """Features a published statement first, in full, on the front page."""
        while True:
            statement = self.find_statement(id_or_slug)
            page = self.front_page()
            page.feature(statement, actor=actor, now=self.clock())
            try:
                self.save(page)
            except IntegrityError:
                continue  # another publisher changed the front page meanwhile
            return statement

    def unfeature(self, *, actor: str, only: UUID | None = None) -> bool:
        """The front page shows the newest statement first again; False when it
        featured none, or (given only) another statement than only: a page
        opened before a colleague featured another never unfeatures theirs."""
        while True:
            page = self.front_page()
            if only is not None and page.featured != only:
                return False
            try:
                page.unfeature(actor=actor, now=self.clock())
            except NothingFeatured:
                return False
            try:
                self.save(page)
            except IntegrityError:
                continue
            return True

    # Reads

    def front_page(self) -> FrontPage:
        """The front page as recorded (opened, unsaved, before its first event)."""
        try:
            page: Any = self.repository.get(FrontPage.create_id())
        except AggregateNotFoundError:
            return FrontPage.opened()
        return cast(FrontPage, page)

    def get_statement(
        self, statement_id: UUID, version: int | None = None
    ) -> Statement:
        try:
            statement: Any = self.repository.get(statement_id, version=version)
        except AggregateNotFoundError:
            raise StatementNotFound(str(statement_id)) from None
        if not isinstance(statement, Statement):
            raise StatementNotFound(str(statement_id))
        return statement

    def find_statement(self, id_or_slug: str) -> Statement:
        """A statement by its id or by its slug."""
        if is_uuid(id_or_slug):
            return self.get_statement(UUID(id_or_slug))
        owner = self.slug_owner(id_or_slug)
        if owner is None:
            raise StatementNotFound(id_or_slug)
        return self.get_statement(owner)

    def translations(self, statement: Statement) -> list[Statement]:
        """The other statements of its group of translations, one per language,
        read from each language's place (so as fresh as the event store)."""
        group = statement.translation_group
        if group is None:
            return []
        found = []
        for language in self.languages:
            if language == statement.language:
                continue
            try:
                slot: Any = self.repository.get(
                    TranslationSlot.create_id(group, language)
                )
            except AggregateNotFoundError:
                continue
            if slot.statement_id is not None:
                found.append(self.get_statement(slot.statement_id))
        return found

    def recall(self, idempotency: IdempotencyKey | None) -> CommandResult | None:
        """The first answer to a command sent again with the same Idempotency-Key."""
        if idempotency is None:
            return None
        receipt_id = CommandReceipt.create_id(idempotency.actor, idempotency.key)
        try:
            receipt: Any = self.repository.get(receipt_id)
        except AggregateNotFoundError:
            return None
        if receipt.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request."
            )
        statement = self.get_statement(receipt.statement_id, receipt.statement_version)
        return CommandResult(receipt.command, statement, replayed=True)

    # Helpers

    def _draft(
        self,
        new: NewStatement,
        slug: str,
        actor: str,
        *,
        imported: bool = False,
        statement_id: UUID | None = None,
    ) -> Statement:
        """A new statement, scheduled or published as asked (an import of past
        statements needs no second pair of eyes: it records what was)."""
        now = self.clock()
        eyes = self.second_pair_of_eyes and not imported
        fields: dict[str, Any] = {
            "slug": slug,
            "kind": new.kind,
            "title": new.title,
            "body": new.body,
            "language": new.language,
            "tags": list(new.tags),
            "actor": actor,
            "at": utc(now),
            "summary": new.summary,
            "speaker": new.speaker,
        }
        statement = (
            Statement(**fields)
            if statement_id is None
            else Statement.drafted_with_id(statement_id, **fields)
        )
        if new.publish_at is not None:
            statement.schedule(
                publish_at=new.publish_at,
                actor=actor,
                now=now,
                second_pair_of_eyes=eyes,
            )
        elif not new.draft:
            statement.publish(
                actor=actor,
                now=now,
                published_at=new.published_at,
                second_pair_of_eyes=eyes,
            )
        return statement

    def _change(
        self,
        command: str,
        statement_id: UUID,
        expected_version: int | None,
        idempotency: IdempotencyKey | None,
        act: Callable[[Statement], Sequence[Any] | None],
    ) -> CommandResult:
        """Loads, checks the version, acts, saves; retries a lost race when the
        caller did not pin a version (the rules then decide on fresh state)."""
        if replay := self.recall(idempotency):
            return replay
        while True:
            statement = self.get_statement(statement_id)
            if expected_version is not None and statement.version != expected_version:
                raise StaleVersion(statement.version)
            others = act(statement) or ()
            try:
                self._save_command(command, statement, idempotency, *others)
            except IntegrityError:
                if replay := self.recall(idempotency):
                    return replay
                if expected_version is not None:
                    raise StaleVersion(
                        self.get_statement(statement_id).version
                    ) from None
                continue
            return CommandResult(command, statement)

    def _save_command(
        self,
        command: str,
        statement: Statement,
        idempotency: IdempotencyKey | None,
        *others: Any,
    ) -> None:
        """Saves the statement, its indexes and its receipt in one transaction."""
        receipts = []
        if idempotency is not None:
            receipts.append(
                CommandReceipt(
                    idempotency.actor,
                    idempotency.key,
                    idempotency.fingerprint,
                    command,
                    statement.id,
                    statement.version,
                )
            )
        self.save(statement, *others, *receipts)

    def _join_translations(
        self, statement: Statement, translation_of: str, actor: str
    ) -> list[Any]:
        """Links a new statement into the group of the statement it translates
        (starting the group if that one has none); returns what else to save
        with it: the original when it joins now, and each language's place."""
        try:
            original = self.find_statement(translation_of)
        except StatementNotFound:
            raise UnknownOriginal(
                f"translation_of: no statement {translation_of!r}."
            ) from None
        original.check_translatable()
        if original.language == statement.language:
            raise TranslationTaken(
                f"{original.slug!r} is in {original.language} already."
            )
        now = self.clock()
        others: list[Any] = []
        if original.translation_group is None:
            original.link_translation(
                group=original.id, of=original.id, actor=actor, now=now
            )
            others += [original, self._take_slot(original)]
        assert original.translation_group is not None
        statement.link_translation(
            group=original.translation_group, of=original.id, actor=actor, now=now
        )
        others.append(self._take_slot(statement))
        return others

    def _take_slot(self, statement: Statement) -> TranslationSlot:
        """The statement's language's place in its group, taken by it
        (TranslationTaken when another statement holds it)."""
        group = statement.translation_group
        assert group is not None
        try:
            slot: Any = self.repository.get(
                TranslationSlot.create_id(group, statement.language)
            )
        except AggregateNotFoundError:
            return TranslationSlot(group, statement.language, statement.id)
        slot.take(statement.id)
        return slot

    def _check_language(self, language: str) -> None:
        if language not in self.languages:
            raise UnknownLanguage(
                f"Unknown language {language!r}; this press office publishes in "
                f"{', '.join(self.languages)}."
            )

    def _check_kind(self, kind: str) -> None:
        if kind not in self.kinds:
            raise UnknownKind(f"Unknown kind {kind!r}; known: {', '.join(self.kinds)}.")

    def slug_owner(self, slug: str) -> UUID | None:
        """The id of the statement that holds a slug (None: no statement)."""
        try:
            index: Any = self.repository.get(SlugIndex.create_id(slug))
        except AggregateNotFoundError:
            return None
        return index.statement_id

    def _slug_candidates(self, new: NewStatement) -> Iterable[str]:
        """The given slug; or the title's, tried without looking (the save
        refuses it if taken: one read less for a new title), then a free one
        derived from it, again after each lost race for it."""
        if new.slug is not None:
            while True:  # again after a lost race for anything but the slug
                yield new.slug
        base = slugify(new.title) or "statement"
        yield base
        while True:
            yield self._free_slug(base)

    def _free_slug(self, base: str) -> str:
        """The base if free, else base-n for a free n, in O(log n) lookups.

        Suffixes are handed out in order, so the taken ones are 2..k (give or
        take a few given explicitly): n doubles until base-n is free, then the
        gap between the last taken n and that free one is halved until they
        are neighbours. That gives k+1 when 2..k are taken, and a free n
        whatever is taken. (The 1,000th create of one title looks at 20 slugs,
        not 1,000; see benchmarks/slugs.py.)
        """
        if not self._slug_taken(base):
            return base
        taken, free = 1, 2  # suffix 1 stands for the base itself
        while self._slug_taken(f"{base}-{free}"):
            taken, free = free, free * 2
        while free - taken > 1:
            middle = (taken + free) // 2
            if self._slug_taken(f"{base}-{middle}"):
                taken = middle
            else:
                free = middle
        return f"{base}-{free}"

    def _slug_taken(self, slug: str) -> bool:
        """One primary-key lookup of the slug's index aggregate."""
        return bool(self.recorder.select_events(SlugIndex.create_id(slug), limit=1))

    @staticmethod
    def _refuse_duplicate_slugs(statements: Sequence[NewStatement]) -> None:
        counts = Counter(s.slug for s in statements if s.slug is not None)
        duplicates = sorted(slug for slug, n in counts.items() if n > 1)
        if duplicates:
            raise SlugTaken(f"Slugs given twice: {', '.join(duplicates[:10])}")

    def _unique_import_slugs(self, statements: Sequence[NewStatement]) -> list[str]:
        """Slugs for a batch: given ones must be unique and free; derived ones
        get suffixes past those in the batch and in the store. (Run again on
        the lines an interrupted import left, this gives each the slug the
        whole run would have: the lines saved before took the lowest suffixes.)"""
        counts = Counter(s.slug for s in statements if s.slug is not None)
        taken = sorted(self._taken_slugs(list(counts)))
        if taken:
            raise SlugTaken(f"Slugs already taken: {', '.join(taken[:10])}")
        bases = [slugify(new.title) or "statement" for new in statements]
        stored = self._taken_slugs(
            [b for b, new in zip(bases, statements, strict=True) if new.slug is None]
        )
        used = set(counts)
        in_store = functools.cache(lambda slug: self.slug_owner(slug) is not None)
        next_suffix: dict[str, int] = {}  # below it, every suffix of a base is used
        slugs = []
        for new, base in zip(statements, bases, strict=True):
            if new.slug is not None:
                slugs.append(new.slug)
                continue
            n = next_suffix.get(base, 1)
            candidate = base if n == 1 else f"{base}-{n}"
            while candidate in used or (
                base in stored if candidate == base else in_store(candidate)
            ):
                n += 1
                candidate = f"{base}-{n}"
            used.add(candidate)
            next_suffix[base] = n + 1
            slugs.append(candidate)
        return slugs

    def _taken_slugs(self, slugs: Sequence[str]) -> set[str]:
        """Those of the slugs that some statement has, in a few queries."""
        by_index_id = {SlugIndex.create_id(slug): slug for slug in set(slugs)}
        found = Ledger(self.recorder).recorded(list(by_index_id))
        return {by_index_id[index_id] for index_id in found}
