"""Review before publication, and the second pair of eyes: rules of the statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pressfeed.aggregates import (
    HeldForReview,
    NotADraft,
    NotInReview,
    SecondPairOfEyesRequired,
    Statement,
)

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def drafted(actor: str = "wanda") -> Statement:
    return Statement(
        slug="visa-hours",
        kind="news",
        title="Visa hours",
        body="Nine to five.",
        language="en",
        tags=[],
        actor=actor,
        at=NOW,
    )


def test_a_writer_submits_a_draft_and_a_publisher_approves_it():
    statement = drafted()
    statement.submit_for_review(actor="wanda", now=NOW)
    assert statement.in_review
    assert statement.review_requested_by == "wanda"
    statement.approve(actor="paul", now=NOW, second_pair_of_eyes=True)
    statement.publish(actor="paul", now=NOW, second_pair_of_eyes=True)
    assert not statement.in_review
    assert (statement.approved_by, statement.status) == ("paul", "published")
    events = [type(e).__name__ for e in statement.collect_events()]
    assert events == ["Drafted", "SubmittedForReview", "Approved", "Published"]


def test_only_a_draft_goes_to_review_and_only_a_reviewed_one_is_approved():
    statement = drafted()
    with pytest.raises(NotInReview):
        statement.approve(actor="paul", now=NOW, second_pair_of_eyes=False)
    statement.publish(actor="paul", now=NOW)
    with pytest.raises(NotADraft):
        statement.submit_for_review(actor="wanda", now=NOW)


def test_the_author_of_the_text_cannot_be_the_second_pair_of_eyes():
    statement = drafted(actor="paul")
    statement.submit_for_review(actor="paul", now=NOW)
    later = NOW + timedelta(days=1)
    for act in (
        lambda: statement.approve(actor="paul", now=NOW, second_pair_of_eyes=True),
        lambda: statement.publish(actor="paul", now=NOW, second_pair_of_eyes=True),
        lambda: statement.schedule(
            publish_at=later, actor="paul", now=NOW, second_pair_of_eyes=True
        ),
        lambda: statement.retract(
            reason="x", actor="paul", now=NOW, second_pair_of_eyes=True
        ),
    ):
        with pytest.raises(SecondPairOfEyesRequired):
            act()
    statement.publish(actor="paul", now=NOW, second_pair_of_eyes=False)  # rule off


def test_changing_the_text_makes_its_editor_the_author_and_voids_an_approval():
    statement = drafted(actor="wanda")
    statement.submit_for_review(actor="wanda", now=NOW)
    statement.approve(actor="paul", now=NOW, second_pair_of_eyes=True)
    statement.amend(
        changes={"body": "Nine to six."},
        change_note=None,
        minor=False,
        actor="paul",
        now=NOW,
    )
    assert statement.text_author == "paul" and statement.approved_by is None
    with pytest.raises(SecondPairOfEyesRequired):
        statement.publish(actor="paul", now=NOW, second_pair_of_eyes=True)
    statement.amend(
        changes={"tags": ["visas"]},
        change_note=None,
        minor=False,
        actor="wanda",
        now=NOW,
    )
    assert statement.text_author == "paul"  # tags are not the text


def test_publishing_or_scheduling_a_statement_in_review_approves_it():
    for release in (
        lambda s: s.publish(actor="paul", now=NOW),
        lambda s: s.schedule(publish_at=NOW + timedelta(days=1), actor="paul", now=NOW),
    ):
        statement = drafted()
        statement.submit_for_review(actor="wanda", now=NOW)
        release(statement)
        assert statement.approved_by == "paul"
        assert "Approved" in [type(e).__name__ for e in statement.collect_events()]


def amend_body(statement: Statement, actor: str, eyes: bool = False) -> None:
    statement.amend(
        changes={"body": "Unapproved wording."},
        change_note=None,
        minor=False,
        actor=actor,
        now=NOW,
        second_pair_of_eyes=eyes,
    )


def test_an_embargoed_text_changed_after_its_approval_is_held_at_its_time():
    statement = drafted()
    statement.submit_for_review(actor="wanda", now=NOW)
    due = NOW + timedelta(hours=1)
    statement.schedule(publish_at=due, actor="paul", now=NOW)  # approves it
    amend_body(statement, "wanda")
    assert statement.in_review and statement.status == "scheduled"
    with pytest.raises(HeldForReview):
        statement.publish_as_scheduled(planned_at=due, actor="scheduler", now=due)
    statement.publish(actor="paul", now=due + timedelta(minutes=5))  # approved again
    assert (statement.status, statement.approved_by) == ("published", "paul")


def test_with_a_second_pair_of_eyes_any_change_of_an_embargoed_text_is_reviewed():
    statement = drafted(actor="wanda")
    due = NOW + timedelta(hours=1)
    statement.schedule(publish_at=due, actor="paul", now=NOW, second_pair_of_eyes=True)
    amend_body(statement, "paul", eyes=True)  # the scheduler's own words now
    assert statement.in_review and statement.review_requested_by == "paul"
    with pytest.raises(HeldForReview):
        statement.publish_as_scheduled(planned_at=due, actor="scheduler", now=due)
    with pytest.raises(SecondPairOfEyesRequired):
        statement.publish(actor="paul", now=due, second_pair_of_eyes=True)


def test_without_review_an_embargoed_correction_publishes_on_time():
    statement = drafted()
    due = NOW + timedelta(hours=1)
    statement.schedule(publish_at=due, actor="paul", now=NOW)
    amend_body(statement, "paul")
    assert not statement.in_review
    statement.publish_as_scheduled(planned_at=due, actor="scheduler", now=due)
    assert statement.body == "Unapproved wording." and statement.status == "published"


@pytest.mark.parametrize(
    "changes",
    [{"summary": "A new summary"}, {"speaker": "The consul"}, {"tags": ["visas"]}],
)
def test_any_change_of_an_approved_embargoed_statement_is_held(changes):
    statement = drafted()
    statement.submit_for_review(actor="wanda", now=NOW)
    due = NOW + timedelta(hours=1)
    statement.schedule(publish_at=due, actor="paul", now=NOW)
    statement.amend(
        changes=changes, change_note=None, minor=False, actor="wanda", now=NOW
    )
    assert statement.in_review
    with pytest.raises(HeldForReview):
        statement.publish_as_scheduled(planned_at=due, actor="scheduler", now=due)
