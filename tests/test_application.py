"""PressOffice commands against a real SQLite file and the real PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from pressfeed import application
from pressfeed.application import (
    IdempotencyKey,
    IdempotencyKeyReused,
    ImportConflict,
    NewStatement,
    PressOffice,
    SlugTaken,
    StaleVersion,
    StatementNotFound,
    UnknownKind,
    slugify,
)
from pressfeed.ledger import Ledger
from tests.conftest import make_settings


def new(title="Consular hours over the holidays", **fields) -> NewStatement:
    return NewStatement(
        title=title, body="The consulate is *open*.", kind="news", **fields
    )


def test_create_publishes_by_default_and_reserves_the_slug(press_office):
    statement = press_office.create_statement(new(), actor="po").statement
    assert statement.status == "published"
    assert statement.slug == "consular-hours-over-the-holidays"
    again = press_office.find_statement("consular-hours-over-the-holidays")
    assert again.id == statement.id
    assert press_office.find_statement(str(statement.id)).version == 2


def test_a_derived_slug_gets_a_suffix_and_a_given_one_must_be_free(press_office):
    first = press_office.create_statement(new(), actor="po").statement
    second = press_office.create_statement(new(), actor="po").statement
    assert second.slug == f"{first.slug}-2"
    with pytest.raises(SlugTaken):
        press_office.create_statement(new(slug=first.slug), actor="po")


def test_draft_and_scheduled_creations(press_office):
    draft = press_office.create_statement(new(draft=True), actor="po").statement
    assert (draft.status, draft.version) == ("draft", 1)
    embargo = datetime.now(UTC) + timedelta(hours=1)
    scheduled = press_office.create_statement(
        new(publish_at=embargo), actor="po"
    ).statement
    assert (scheduled.status, scheduled.publish_at) == ("scheduled", embargo)


def test_unknown_kinds_are_refused(press_office):
    with pytest.raises(UnknownKind):
        press_office.create_statement(
            NewStatement(title="t", body="b", kind="tweet"), actor="po"
        )


def test_amendments_need_the_current_version(press_office):
    statement = press_office.create_statement(new(), actor="po").statement
    amended = press_office.amend(
        statement.id,
        expected_version=2,
        changes={"title": "New title"},
        change_note="Clearer title",
        minor=False,
        actor="editor",
    ).statement
    assert (amended.version, amended.title) == (3, "New title")
    with pytest.raises(StaleVersion) as stale:
        press_office.amend(
            statement.id,
            expected_version=2,
            changes={"title": "Lost"},
            change_note="x",
            minor=False,
            actor="other",
        )
    assert stale.value.current_version == 3
    assert press_office.get_statement(statement.id).title == "New title"


def test_two_editors_racing_from_one_version_one_wins_and_nothing_is_lost(press_office):
    statement = press_office.create_statement(new(), actor="po").statement
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def edit(title: str) -> None:
        barrier.wait()
        try:
            press_office.amend(
                statement.id,
                expected_version=2,
                changes={"title": title},
                change_note=title,
                minor=False,
                actor=title,
            )
            outcomes.append("ok")
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=edit, args=(t,)) for t in ("Edit A", "Edit B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "stale"]
    final = press_office.get_statement(statement.id)
    assert final.version == 3
    assert final.title in ("Edit A", "Edit B")


def test_schedule_unschedule_publish_retract(press_office):
    statement = press_office.create_statement(new(draft=True), actor="po").statement
    embargo = datetime.now(UTC) + timedelta(days=1)
    assert (
        press_office.schedule(
            statement.id, publish_at=embargo, actor="po"
        ).statement.status
        == "scheduled"
    )
    assert press_office.unschedule(statement.id, actor="po").statement.status == "draft"
    published = press_office.publish(statement.id, actor="po").statement
    assert published.status == "published"
    retracted = press_office.retract(
        statement.id, expected_version=published.version, reason="Error", actor="po"
    ).statement
    assert (retracted.status, retracted.retraction_reason) == ("retracted", "Error")


def test_an_idempotent_retry_returns_the_first_answer_and_changes_nothing(press_office):
    key = IdempotencyKey("po", "create-1", "fingerprint-a")
    first = press_office.create_statement(new(), actor="po", idempotency=key)
    head = press_office.recorder.max_notification_id()
    again = press_office.create_statement(new(), actor="po", idempotency=key)
    assert again.replayed and again.statement.id == first.statement.id
    assert press_office.recorder.max_notification_id() == head
    with pytest.raises(IdempotencyKeyReused):
        press_office.create_statement(
            new(), actor="po", idempotency=IdempotencyKey("po", "create-1", "other")
        )


def test_idempotency_keys_belong_to_their_caller(press_office):
    one = press_office.create_statement(
        new(), actor="alice", idempotency=IdempotencyKey("alice", "k", "f")
    )
    two = press_office.create_statement(
        new(), actor="bob", idempotency=IdempotencyKey("bob", "k", "f")
    )
    assert one.statement.id != two.statement.id and not two.replayed


def test_unknown_ids_and_slugs_are_not_found(press_office):
    with pytest.raises(StatementNotFound):
        press_office.find_statement("no-such-slug")
    with pytest.raises(StatementNotFound):
        press_office.find_statement("00000000-0000-4000-8000-000000000000")


def test_index_aggregates_are_not_statements(press_office):
    from pressfeed.aggregates import SlugIndex

    statement = press_office.create_statement(new(), actor="po").statement
    with pytest.raises(StatementNotFound):
        press_office.get_statement(SlugIndex.create_id(statement.slug))


def test_batch_import_is_all_or_nothing_on_taken_slugs(press_office):
    press_office.create_statement(new(slug="taken"), actor="po")
    head = press_office.recorder.max_notification_id()
    batch = [new(title=f"Item {i}") for i in range(5)] + [new(slug="taken")]
    with pytest.raises(SlugTaken):
        press_office.import_statements(batch, actor="import")
    assert press_office.recorder.max_notification_id() == head


def test_batch_import_saves_every_statement_back_dated(press_office):
    when = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    batch = [new(title="Same title", published_at=when) for _ in range(1200)]
    saved = press_office.import_statements(batch, actor="import")
    assert len({s.slug for s in saved}) == 1200
    last = press_office.find_statement(saved[-1].slug)
    assert (last.status, last.published_at) == ("published", when)


def test_batch_import_derives_slugs_past_those_already_taken(press_office):
    press_office.create_statement(new(title="Visa hours"), actor="po")
    press_office.create_statement(new(slug="consular-fees-2"), actor="po")
    batch = [new(title="Visa hours"), new(title="Consular fees")]
    batch += [new(title="Consular fees")]
    saved = press_office.import_statements(batch, actor="import")
    assert [s.slug for s in saved] == [
        "visa-hours-2",
        "consular-fees",
        "consular-fees-3",
    ]


def test_slugify_makes_ascii_slugs():
    assert slugify("Visite d'État à Paris (2026)!") == "visite-d-etat-a-paris-2026"
    assert slugify("Заявление") == "zaiavlenie"
    assert slugify("Комментарий посольства") == "kommentarii-posolstva"
    assert slugify("Ελληνικά νέα") == "ellenika-nea"
    assert slugify("!!!") == ""


def test_an_import_racing_another_writer_saves_its_chunks_in_order_then_stops(
    press_office, monkeypatch
):
    """Another writer saved the file's last lines after this import looked:
    the chunks before them are saved, and the error says how many."""
    monkeypatch.setattr(application, "SAVE_CHUNK", 2)
    batch = [new(title=f"Line {i}") for i in range(6)]
    press_office.import_statements(batch[4:], actor="other writer")
    monkeypatch.setattr(Ledger, "recorded", lambda ledger, ids: set())
    with pytest.raises(ImportConflict, match=r"^4 statements were saved"):
        press_office.import_statements(batch, actor="import")
    assert press_office.find_statement("line-3").title == "Line 3"
    assert press_office.find_statement("line-4").last_actor == "other writer"
    with pytest.raises(StatementNotFound):
        press_office.find_statement("line-4-2")


@pytest.fixture
def sqlite_press_office(sqlite_settings):
    app = PressOffice(env=sqlite_settings.eventsourcing_env())
    yield app
    app.close()


def test_a_thousand_statements_with_one_cyrillic_title_get_readable_slugs(
    sqlite_press_office,
):
    title = "Комментарий посольства"
    slugs = [
        sqlite_press_office.create_statement(
            new(title=title), actor="po"
        ).statement.slug
        for _ in range(1000)
    ]
    assert len(set(slugs)) == 1000
    assert slugs[0] == "kommentarii-posolstva"
    assert all(slug.startswith("kommentarii-posolstva") for slug in slugs)
    assert all(len(slug) <= len("kommentarii-posolstva") + 12 for slug in slugs)
    owner = sqlite_press_office.find_statement(slugs[-1])
    assert owner.slug == slugs[-1]


def test_an_import_run_again_skips_what_was_saved_and_derives_the_same_slugs(
    press_office, settings
):
    when = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    batch = [new(title=f"Title {i % 700}", published_at=when) for i in range(2500)]
    batch += [
        new(title="Given", slug=f"given-{i}", published_at=when) for i in range(3)
    ]
    # An import that stopped after its first chunk, then the whole file again.
    first = press_office.import_statements(batch[:1000], actor="import")
    head = press_office.recorder.max_notification_id()
    rest = press_office.import_statements(batch, actor="import")
    assert len(first) == 1000 and len(rest) == len(batch) - 1000
    assert {s.id for s in first}.isdisjoint({s.id for s in rest})
    again = press_office.import_statements(batch, actor="import")
    assert again == []
    assert press_office.recorder.max_notification_id() > head
    # The same file imported at once into another store gives the same slugs.
    other = PressOffice(
        env=make_settings(settings.instance_dir.parent / "other").eventsourcing_env()
    )
    try:
        at_once = other.import_statements(batch, actor="import")
    finally:
        other.close()
    resumed = {s.id: s.slug for s in [*first, *rest]}
    assert {s.id: s.slug for s in at_once} == resumed
    assert len(set(resumed.values())) == len(batch)
