"""The Statement aggregate's rules, one by one, without any store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pressfeed.aggregates import (
    AlreadyPublished,
    ChangeNoteRequired,
    EmbargoNotDue,
    EmbargoNotInFuture,
    FieldNotAmendable,
    NothingToAmend,
    NotScheduled,
    PublicationInFuture,
    Statement,
    StatementRetracted,
)

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def draft() -> Statement:
    return Statement(
        slug="visa-hours",
        kind="news",
        title="Visa hours",
        body="Open **daily**.",
        language="en",
        tags=["consular"],
        actor="alice",
        at=NOW,
    )


def published() -> Statement:
    statement = draft()
    statement.publish(actor="alice", now=NOW)
    return statement


def test_a_new_statement_is_a_draft_at_version_1():
    statement = draft()
    assert (statement.status, statement.version) == ("draft", 1)
    assert statement.published_at is None


def test_publishing_records_the_actual_time_and_the_actor():
    statement = published()
    assert statement.status == "published"
    assert statement.published_at == NOW
    assert statement.last_actor == "alice"


def test_a_back_dated_publication_keeps_its_past_time():
    statement = draft()
    statement.publish(actor="a", now=NOW, published_at=NOW - timedelta(days=300))
    assert statement.published_at == NOW - timedelta(days=300)


def test_a_publication_time_in_the_future_is_refused():
    with pytest.raises(PublicationInFuture):
        draft().publish(actor="a", now=NOW, published_at=NOW + timedelta(seconds=1))


def test_publishing_twice_is_refused():
    with pytest.raises(AlreadyPublished):
        published().publish(actor="a", now=NOW)


def test_scheduling_needs_a_future_time():
    with pytest.raises(EmbargoNotInFuture):
        draft().schedule(publish_at=NOW, actor="a", now=NOW)


def test_scheduling_keeps_the_planned_time_for_the_publication():
    statement = draft()
    embargo = NOW + timedelta(hours=2)
    statement.schedule(publish_at=embargo, actor="a", now=NOW)
    assert (statement.status, statement.publish_at) == ("scheduled", embargo)
    statement.publish(actor="scheduler", now=embargo + timedelta(milliseconds=300))
    assert statement.planned_publication_at == embargo
    assert statement.published_at == embargo + timedelta(milliseconds=300)


def test_a_published_statement_cannot_be_scheduled():
    with pytest.raises(AlreadyPublished):
        published().schedule(publish_at=NOW + timedelta(days=1), actor="a", now=NOW)


def test_unscheduling_goes_back_to_draft_and_needs_a_schedule():
    statement = draft()
    with pytest.raises(NotScheduled):
        statement.unschedule(actor="a")
    statement.schedule(publish_at=NOW + timedelta(hours=1), actor="a", now=NOW)
    statement.unschedule(actor="a")
    assert (statement.status, statement.publish_at) == ("draft", None)


def test_an_amendment_of_a_published_statement_needs_a_change_note():
    with pytest.raises(ChangeNoteRequired):
        published().amend(
            changes={"title": "New"}, change_note=" ", minor=False, actor="a", now=NOW
        )


def test_a_draft_may_be_amended_without_a_note():
    statement = draft()
    statement.amend(
        changes={"title": "New"}, change_note=None, minor=False, actor="a", now=NOW
    )
    assert statement.title == "New"
    assert statement.change_notes == []


def test_an_amendment_that_changes_nothing_is_refused():
    with pytest.raises(NothingToAmend):
        published().amend(
            changes={"title": "Visa hours"},
            change_note="x",
            minor=False,
            actor="a",
            now=NOW,
        )


def test_only_title_body_kind_and_tags_can_be_amended():
    with pytest.raises(FieldNotAmendable):
        published().amend(
            changes={"slug": "other"}, change_note="x", minor=False, actor="a", now=NOW
        )


def test_a_major_amendment_moves_updated_at_and_a_minor_one_does_not():
    statement = published()
    later = NOW + timedelta(days=1)
    statement.amend(
        changes={"body": "Typo"}, change_note="Typo", minor=True, actor="a", now=later
    )
    assert statement.updated_at == NOW
    statement.amend(
        changes={"body": "New hours"},
        change_note="New hours",
        minor=False,
        actor="a",
        now=later + timedelta(days=1),
    )
    assert statement.updated_at == later + timedelta(days=1)
    assert [(n.version, n.note, n.minor, n.public) for n in statement.change_notes] == [
        (3, "Typo", True, True),
        (4, "New hours", False, True),
    ]


def test_a_retracted_statement_refuses_every_command():
    statement = published()
    statement.retract(reason="Published in error", actor="a", now=NOW)
    assert statement.status == "retracted"
    assert statement.retraction_reason == "Published in error"
    commands = [
        lambda: statement.publish(actor="a", now=NOW),
        lambda: statement.amend(
            changes={"title": "x"}, change_note="x", minor=False, actor="a", now=NOW
        ),
        lambda: statement.schedule(
            publish_at=NOW + timedelta(days=1), actor="a", now=NOW
        ),
        lambda: statement.unschedule(actor="a"),
        lambda: statement.retract(reason="again", actor="a", now=NOW),
    ]
    for command in commands:
        with pytest.raises(StatementRetracted):
            command()


def test_replaying_the_events_gives_the_same_state():
    statement = published()
    statement.amend(
        changes={"tags": ["a", "b"]},
        change_note="Tags",
        minor=False,
        actor="b",
        now=NOW,
    )
    events = statement.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed.__dict__ == statement.__dict__


def scheduled(hours: float = 1) -> Statement:
    statement = draft()
    statement.schedule(publish_at=NOW + timedelta(hours=hours), actor="a", now=NOW)
    return statement


def test_the_scheduler_never_publishes_before_the_embargo():
    statement = scheduled()
    embargo = statement.publish_at
    with pytest.raises(EmbargoNotDue):
        statement.publish_as_scheduled(
            planned_at=embargo,
            actor="scheduler",
            now=embargo - timedelta(microseconds=1),
        )
    statement.publish_as_scheduled(planned_at=embargo, actor="scheduler", now=embargo)
    assert (statement.published_at, statement.planned_publication_at) == (
        embargo,
        embargo,
    )


def test_the_scheduler_publishes_only_the_embargo_it_planned_for():
    statement = scheduled()
    moved = NOW + timedelta(hours=5)
    statement.schedule(publish_at=moved, actor="a", now=NOW)
    with pytest.raises(NotScheduled):
        statement.publish_as_scheduled(
            planned_at=NOW + timedelta(hours=1), actor="scheduler", now=moved
        )
    statement.unschedule(actor="a")
    with pytest.raises(NotScheduled):
        statement.publish_as_scheduled(planned_at=moved, actor="scheduler", now=moved)
