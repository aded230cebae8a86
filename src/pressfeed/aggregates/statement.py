"""The Statement aggregate: an official statement and everything that happened to it.

Each public command method checks the press office's rules and then triggers an
event through a private ``@event`` method; the event methods only change state,
so replaying the log never re-checks rules against a later clock.
The event methods replace attributes rather than changing lists in place, so a
shallow copy of a statement keeps the version it was copied from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from pressfeed.aggregates.errors import (
    AlreadyPublished,
    ChangeNoteRequired,
    EmbargoNotDue,
    EmbargoNotInFuture,
    FieldNotAmendable,
    HeldForReview,
    NotADraft,
    NotATranslation,
    NothingToAmend,
    NotInReview,
    NotScheduled,
    PublicationInFuture,
    SecondPairOfEyesRequired,
    StatementRetracted,
)

Status = Literal["draft", "scheduled", "published", "retracted"]
DRAFT: Final = "draft"
SCHEDULED: Final = "scheduled"
PUBLISHED: Final = "published"
RETRACTED: Final = "retracted"
STATUSES: tuple[Status, ...] = (DRAFT, SCHEDULED, PUBLISHED, RETRACTED)

AMENDABLE_FIELDS = ("title", "body", "kind", "tags", "summary", "speaker")
TEXT_FIELDS = ("title", "body")  # what a second pair of eyes checks


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; a time without an offset is a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"A time without a UTC offset: {moment!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ChangeNote:
    """Why a statement changed; public when the statement already was."""

    version: int
    at: datetime
    note: str
    minor: bool
    public: bool


class Statement(Aggregate):
    """An official statement of the press office."""

    # The events, declared so that views and the audit can match them by type.

    class Drafted(Aggregate.Created):
        slug: str
        kind: str
        title: str
        body: str
        language: str
        tags: list[str]
        actor: str
        at: datetime
        summary: str | None = None
        speaker: str | None = None

    class Scheduled(Aggregate.Event):
        publish_at: datetime
        actor: str

    class Unscheduled(Aggregate.Event):
        actor: str

    class Published(Aggregate.Event):
        published_at: datetime
        planned_at: datetime | None
        actor: str

    class Amended(Aggregate.Event):
        changes: dict[str, Any]
        change_note: str
        minor: bool
        actor: str
        at: datetime

    class Retracted(Aggregate.Event):
        reason: str
        actor: str
        at: datetime

    class SubmittedForReview(Aggregate.Event):
        actor: str
        at: datetime

    class Approved(Aggregate.Event):
        actor: str
        at: datetime

    class LinkedToTranslations(Aggregate.Event):
        group: UUID
        of: UUID
        actor: str
        at: datetime

    class UnlinkedFromTranslations(Aggregate.Event):
        group: UUID
        actor: str
        at: datetime

    @event(Drafted)
    def __init__(
        self,
        # Not keyword-only: eventsourcing takes a keyword-only argument as
        # required even with a default, and these two came later (optional).
        summary: str | None = None,
        speaker: str | None = None,
        *,
        slug: str,
        kind: str,
        title: str,
        body: str,
        language: str,
        tags: list[str],
        actor: str,
        at: datetime,
    ) -> None:
        self.slug = slug
        self.kind = kind
        self.title = title
        self.body = body
        self.language = language
        self.tags = list(tags)
        self.summary = summary  # plain text for lists and teasers, or None
        self.speaker = speaker  # who speaks ("Ambassador"), or None
        self.status: Status = DRAFT
        self.drafted_at = at
        self.updated_at = at
        self.publish_at: datetime | None = None
        self.published_at: datetime | None = None
        self.planned_publication_at: datetime | None = None
        self.retracted_at: datetime | None = None
        self.retraction_reason: str | None = None
        self.change_notes: list[ChangeNote] = []
        self.last_actor = actor
        self.text_author = actor  # who last changed the title or body
        self.review_requested_by: str | None = None
        self.review_requested_at: datetime | None = None
        self.approved_by: str | None = None
        self.translation_group: UUID | None = None

    @classmethod
    def drafted_with_id(cls, statement_id: UUID, **fields: Any) -> Statement:
        """A new draft whose id the caller chose: an import derives it from the
        line, so that importing the same line again finds it already saved."""
        return cls._create(cls.Drafted, id=statement_id, **fields)

    # Commands: each checks the rules, then records an event.

    def submit_for_review(self, *, actor: str, now: datetime) -> None:
        """Asks a publisher to approve the draft (once: asked again while in
        review, nothing is recorded, so a retrying tool does no harm)."""
        self._refuse_if_retracted()
        if self.status != DRAFT:
            raise NotADraft("Only a draft is submitted for review.")
        if not self.in_review:
            self._submit_for_review(actor=actor, at=utc(now))

    def approve(self, *, actor: str, now: datetime, second_pair_of_eyes: bool) -> None:
        """A publisher approves a statement in review (then publishes or schedules it)."""
        self._refuse_if_retracted()
        if not self.in_review:
            raise NotInReview("The statement is not waiting for review.")
        self._require_second_pair_of_eyes(actor, second_pair_of_eyes)
        self._approve(actor=actor, at=utc(now))

    def schedule(
        self,
        *,
        publish_at: datetime,
        actor: str,
        now: datetime,
        second_pair_of_eyes: bool = False,
    ) -> None:
        """Sets (or moves) the embargo: the statement publishes at publish_at."""
        self._refuse_if_retracted()
        if self.status == PUBLISHED:
            raise AlreadyPublished("The statement is already published.")
        self._require_second_pair_of_eyes(actor, second_pair_of_eyes)
        if publish_at <= now:
            raise EmbargoNotInFuture("publish_at must lie in the future.")
        self._approve_if_in_review(actor, now)
        self._schedule(publish_at=utc(publish_at), actor=actor)

    def unschedule(self, *, actor: str) -> None:
        """Cancels the embargo: the statement goes back to draft."""
        self._refuse_if_retracted()
        if self.status != SCHEDULED:
            raise NotScheduled("The statement has no embargo to cancel.")
        self._unschedule(actor=actor)

    def publish(
        self,
        *,
        actor: str,
        now: datetime,
        published_at: datetime | None = None,
        second_pair_of_eyes: bool = False,
    ) -> None:
        """Makes the statement public: now, or at a past time for a back-dated import."""
        self._refuse_if_retracted()
        if self.status == PUBLISHED:
            raise AlreadyPublished("The statement is already published.")
        self._require_second_pair_of_eyes(actor, second_pair_of_eyes)
        if published_at is not None and published_at > now:
            raise PublicationInFuture("published_at must lie in the past.")
        self._approve_if_in_review(actor, now)
        self._publish(
            published_at=utc(published_at or now),
            planned_at=self.publish_at,
            actor=actor,
        )

    def publish_as_scheduled(
        self, *, planned_at: datetime, actor: str, now: datetime
    ) -> None:
        """The scheduler's publication: only the embargo it was planned for, never early."""
        self._refuse_if_retracted()
        if self.status == PUBLISHED:
            raise AlreadyPublished("The statement is already published.")
        if self.status != SCHEDULED or self.publish_at != planned_at:
            raise NotScheduled("The statement is no longer scheduled for that time.")
        if now < self.publish_at:
            raise EmbargoNotDue(
                f"The embargo lasts until {self.publish_at.isoformat()}."
            )
        if self.in_review:
            raise HeldForReview(
                "Its text changed after it was approved: it publishes once a "
                "publisher approves it again."
            )
        self._publish(published_at=utc(now), planned_at=self.publish_at, actor=actor)

    def amend(
        self,
        *,
        changes: dict[str, Any],
        change_note: str | None,
        minor: bool,
        actor: str,
        now: datetime,
        second_pair_of_eyes: bool = False,
    ) -> None:
        """Changes title, body, kind, tags, summary or speaker, with a change note
        saying why (a summary or speaker of None removes it). Any change of an
        approved embargoed statement sends it back to review (the scheduler
        holds a statement in review); with a second pair of eyes, so does
        any change of its text."""
        self._refuse_if_retracted()
        unknown = set(changes) - set(AMENDABLE_FIELDS)
        if unknown:
            raise FieldNotAmendable(
                f"Only {AMENDABLE_FIELDS} can be amended: {unknown}"
            )
        changed = {
            name: value
            for name, value in changes.items()
            if getattr(self, name) != value
        }
        if not changed:
            raise NothingToAmend("The amendment changes nothing.")
        if self.status == PUBLISHED and not (change_note or "").strip():
            raise ChangeNoteRequired(
                "An amendment of a published statement needs a note."
            )
        approved = self.approved_by is not None
        self._amend(
            changes=changed,
            change_note=change_note or "",
            minor=minor,
            actor=actor,
            at=utc(now),
        )
        text_changed = any(name in TEXT_FIELDS for name in changed)
        reviewed = approved or (second_pair_of_eyes and text_changed)
        if self.status == SCHEDULED and reviewed and not self.in_review:
            # what goes out at the embargo (summary, speaker, tags too) is
            # what a publisher approved, or it waits for their approval
            self._submit_for_review(actor=actor, at=utc(now))

    def retract(
        self,
        *,
        reason: str,
        actor: str,
        now: datetime,
        second_pair_of_eyes: bool = False,
    ) -> None:
        """Withdraws the statement for good, with the reason."""
        self._refuse_if_retracted()
        self._require_second_pair_of_eyes(actor, second_pair_of_eyes)
        self._retract(reason=reason, actor=actor, at=utc(now))

    def link_translation(
        self, *, group: UUID, of: UUID, actor: str, now: datetime
    ) -> None:
        """Joins a group of translations (of: the statement it translates, or
        itself when it starts the group)."""
        self._refuse_if_retracted()
        if self.translation_group == group:
            return
        if self.translation_group is not None:
            raise ValueError("The statement belongs to another group already.")
        self._link_translation(group=group, of=of, actor=actor, at=utc(now))

    def unlink_translation(self, *, actor: str, now: datetime) -> None:
        """Leaves its group of translations; the others stay linked."""
        self._refuse_if_retracted()
        if self.translation_group is None:
            raise NotATranslation("The statement is linked to no translation.")
        self._unlink_translation(group=self.translation_group, actor=actor, at=utc(now))

    def check_translatable(self) -> None:
        """Refuses (StatementRetracted) when the statement is withdrawn: a
        withdrawn statement takes no new translation, even in a group it
        already belongs to."""
        self._refuse_if_retracted()

    # Events: they only change state.

    @event(LinkedToTranslations)
    def _link_translation(
        self, *, group: UUID, of: UUID, actor: str, at: datetime
    ) -> None:
        self.translation_group = group
        self.last_actor = actor

    @event(UnlinkedFromTranslations)
    def _unlink_translation(self, *, group: UUID, actor: str, at: datetime) -> None:
        self.translation_group = None
        self.last_actor = actor

    @event(Scheduled)
    def _schedule(self, *, publish_at: datetime, actor: str) -> None:
        self.status = SCHEDULED
        self.publish_at = publish_at
        self.planned_publication_at = publish_at  # shown from scheduling on
        self.last_actor = actor

    @event(Unscheduled)
    def _unschedule(self, *, actor: str) -> None:
        self.status = DRAFT
        self.publish_at = None
        self.planned_publication_at = None
        self.last_actor = actor

    @event(Published)
    def _publish(
        self, *, published_at: datetime, planned_at: datetime | None, actor: str
    ) -> None:
        self.status = PUBLISHED
        self.published_at = published_at
        self.planned_publication_at = planned_at
        self.updated_at = published_at
        self.last_actor = actor

    @event(Amended)
    def _amend(
        self,
        *,
        changes: dict[str, Any],
        change_note: str,
        minor: bool,
        actor: str,
        at: datetime,
    ) -> None:
        for name, value in changes.items():
            setattr(self, name, list(value) if name == "tags" else value)
        if any(name in TEXT_FIELDS for name in changes):
            self.text_author = actor
            self.approved_by = None  # an approval was of the text before
        public = self.status == PUBLISHED
        if not (minor and public):
            self.updated_at = at
        if change_note:
            note = ChangeNote(self.version + 1, at, change_note, minor, public)
            self.change_notes = [*self.change_notes, note]
        self.last_actor = actor

    @event(Retracted)
    def _retract(self, *, reason: str, actor: str, at: datetime) -> None:
        if self.status == SCHEDULED:
            # The embargo is cancelled; a kept one stays as evidence.
            self.publish_at = None
            self.planned_publication_at = None
        self.status = RETRACTED
        self.retracted_at = at
        self.retraction_reason = reason
        self.last_actor = actor

    @event(SubmittedForReview)
    def _submit_for_review(self, *, actor: str, at: datetime) -> None:
        self.review_requested_by = actor
        self.review_requested_at = at
        self.approved_by = None
        self.last_actor = actor

    @event(Approved)
    def _approve(self, *, actor: str, at: datetime) -> None:
        self.approved_by = actor
        self.last_actor = actor

    def _approve_if_in_review(self, actor: str, now: datetime) -> None:
        """A publisher who publishes or schedules a statement in review approves
        it by doing so: the history says so."""
        if self.in_review:
            self._approve(actor=actor, at=utc(now))

    def _require_second_pair_of_eyes(self, actor: str, required: bool) -> None:
        if required and actor == self.text_author:
            raise SecondPairOfEyesRequired(
                f"{actor} last changed the text; another publisher must do this."
            )

    @property
    def in_review(self) -> bool:
        """Submitted for review, not yet approved, not yet public."""
        return (
            self.status in (DRAFT, SCHEDULED)
            and self.review_requested_by is not None
            and self.approved_by is None
        )

    def _refuse_if_retracted(self) -> None:
        if self.status == RETRACTED:
            raise StatementRetracted("The statement is retracted.")

    @property
    def was_public(self) -> bool:
        """True once the statement has been published, even if later retracted."""
        return self.published_at is not None

    @property
    def last_major_amendment_at(self) -> datetime | None:
        """When the text last had a major (not minor) amendment, if ever."""
        majors = [note.at for note in self.change_notes if not note.minor]
        return max(majors) if majors else None

    @property
    def public_change_notes(self) -> list[ChangeNote]:
        return [note for note in self.change_notes if note.public]
