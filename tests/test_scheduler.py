"""Embargoes: published on time, never early, never missed, never twice."""

from __future__ import annotations

import json
import logging
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from pressfeed.application import NewStatement, PressOffice
from pressfeed.projections import open_views
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.projections.schedule import scheduled_statements
from pressfeed.scheduler import EmbargoScheduler
from pressfeed.web import create_app
from tests.helpers import Server, create_token


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def schedule_new(app: PressOffice, publish_at: datetime, title: str = "Embargoed"):
    return app.create_statement(
        NewStatement(
            title=title,
            body="Under embargo.",
            kind="press-release",
            publish_at=publish_at,
        ),
        actor="po",
    ).statement


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


@pytest.fixture
def embargoes(services):
    """A scheduler following the services' views, as `pressfeed serve` runs it."""
    scheduler = EmbargoScheduler(services.press_office, services.views)
    services.worker.on_change.append(scheduler.sync)
    scheduler.start()
    yield scheduler
    scheduler.stop()


def publicly_visible(client, statement) -> dict[str, bool]:
    return {
        "page": client.get(f"/statements/{statement.slug}").status_code == 200,
        "feed": statement.title.encode() in client.get("/feeds/all.atom").data,
        "archive": statement.title.encode() in client.get("/messages").data,
        "changes": statement.title.encode() in client.get("/feeds/changes.atom").data,
    }


def test_not_public_before_due_and_public_within_a_second_after(
    services, embargoes, client
):
    due = soon(2.0)
    statement = schedule_new(services.press_office, due, "Budget announcement")
    sleep_until(due - timedelta(seconds=1))
    assert not any(publicly_visible(client, statement).values())
    assert services.press_office.get_statement(statement.id).status == "scheduled"
    sleep_until(due + timedelta(seconds=1))
    assert all(publicly_visible(client, statement).values())
    published = services.press_office.get_statement(statement.id)
    assert published.planned_publication_at == due
    assert due <= published.published_at < due + timedelta(seconds=1)
    assert published.last_actor == "scheduler"


def test_rescheduling_earlier_and_later_moves_the_job(services, embargoes):
    app = services.press_office
    earlier_one = schedule_new(app, soon(30), "Moved earlier")
    later_one = schedule_new(app, soon(1.0), "Moved later")
    app.schedule(earlier_one.id, publish_at=soon(1.0), actor="po")
    app.schedule(later_one.id, publish_at=soon(30), actor="po")
    time.sleep(2.0)
    assert app.get_statement(earlier_one.id).status == "published"
    assert app.get_statement(later_one.id).status == "scheduled"


def test_cancelling_goes_back_to_draft_and_nothing_is_published(services, embargoes):
    app = services.press_office
    statement = schedule_new(app, soon(1.0), "Cancelled")
    app.unschedule(statement.id, actor="po")
    time.sleep(1.8)
    again = app.get_statement(statement.id)
    assert again.status == "draft"
    assert again.published_at is None


def test_catch_up_after_downtime_publishes_at_once_and_logs_the_delay(settings, caplog):
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    while_down = PressOffice(env=settings.eventsourcing_env(), clock=lambda: long_ago)
    statement = schedule_new(
        while_down, long_ago + timedelta(hours=1), "Missed while down"
    )
    app = PressOffice(env=settings.eventsourcing_env())
    views = open_views(settings)
    ProjectionWorker(app, views).catch_up()
    with caplog.at_level(logging.INFO, logger="pressfeed.scheduler"):
        scheduler = EmbargoScheduler(app, views).start()
        deadline = time.monotonic() + 5
        while app.get_statement(statement.id).status != "published":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        scheduler.stop()
    published = app.get_statement(statement.id)
    assert published.planned_publication_at == long_ago + timedelta(hours=1)
    assert published.published_at >= datetime.now(UTC) - timedelta(seconds=5)
    assert any(
        "after its embargo" in r.getMessage() and "72" in r.getMessage()
        for r in caplog.records
    )


def test_two_schedulers_racing_publish_exactly_once(settings):
    apps = [PressOffice(env=settings.eventsourcing_env()) for _ in range(2)]
    views = [open_views(settings) for _ in range(2)]
    due = soon(1.5)
    statements = [schedule_new(apps[0], due, f"Raced {i}") for i in range(5)]
    for app, view in zip(apps, views, strict=True):
        ProjectionWorker(app, view).catch_up()
    schedulers = [
        EmbargoScheduler(a, v).start() for a, v in zip(apps, views, strict=True)
    ]
    try:
        sleep_until(due + timedelta(seconds=1.5))
    finally:
        for scheduler in schedulers:
            scheduler.stop()
    for statement in statements:
        events = list(apps[0].events.get(statement.id))
        published = [e for e in events if type(e).__name__ == "Published"]
        assert len(published) == 1, statement.title


def test_delay_after_due_over_twenty_embargoes(services, embargoes):
    start = datetime.now(UTC) + timedelta(seconds=1)
    statements = [
        schedule_new(
            services.press_office, start + timedelta(milliseconds=130 * i), f"Timed {i}"
        )
        for i in range(20)
    ]
    sleep_until(start + timedelta(seconds=3.6))
    delays = []
    for statement in statements:
        published = services.press_office.get_statement(statement.id)
        assert published.status == "published", statement.title
        delay = (
            published.published_at - published.planned_publication_at
        ).total_seconds()
        assert 0 <= delay < 1.0
        delays.append(delay)
    print(
        f"embargo delay after due: median {statistics.median(delays) * 1000:.1f} ms, "
        f"worst {max(delays) * 1000:.1f} ms over {len(delays)}"
    )


def test_serve_catches_up_after_being_stopped(sqlite_settings):
    headers = {"Authorization": f"Bearer {create_token(sqlite_settings)}"}
    server = Server(sqlite_settings)
    due = soon(2.0)
    created = requests.post(
        f"{server.url}/api/statements",
        json={
            "title": "Due while down",
            "body": "Text",
            "kind": "news",
            "publish_at": due.isoformat(),
        },
        headers=headers,
        timeout=5,
    ).json()
    assert created["status"] == "scheduled"
    server.stop()
    sleep_until(due + timedelta(seconds=1))
    restarted = Server(sqlite_settings)
    try:
        deadline = time.monotonic() + 10
        while True:
            statement = requests.get(
                f"{restarted.url}/api/statements/{created['id']}",
                headers=headers,
                timeout=5,
            ).json()
            if statement["status"] == "published":
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while (
            requests.get(
                f"{restarted.url}/statements/{created['slug']}", timeout=5
            ).status_code
            != 200
        ):
            assert time.monotonic() < deadline, "published but not on the public page"
            time.sleep(0.02)
    finally:
        restarted.stop()
    assert statement["planned_publication_at"] == created["publish_at"]
    assert statement["published_at"] > statement["planned_publication_at"]


def test_the_api_shows_both_planned_and_actual_times(services, embargoes, publisher):
    client = create_app(services=services).test_client()
    due = soon(1.0)
    created = client.post(
        "/api/statements",
        json={
            "title": "Planned",
            "body": "x",
            "kind": "news",
            "publish_at": due.isoformat(),
        },
        headers=publisher,
    ).get_json()
    sleep_until(due + timedelta(seconds=0.8))
    shown = client.get(f"/api/statements/{created['id']}", headers=publisher).get_json()
    assert shown["status"] == "published"
    assert shown["planned_publication_at"] == created["publish_at"]
    assert shown["published_at"] >= shown["planned_publication_at"]


def test_two_serve_processes_on_one_sqlite_file_publish_once(sqlite_settings):
    headers = {"Authorization": f"Bearer {create_token(sqlite_settings)}"}
    servers = [Server(sqlite_settings), Server(sqlite_settings)]
    try:
        due = soon(2.0)
        created = [
            requests.post(
                f"{servers[0].url}/api/statements",
                json={
                    "title": f"Twice scheduled {i}",
                    "body": "x",
                    "kind": "news",
                    "publish_at": due.isoformat(),
                },
                headers=headers,
                timeout=5,
            ).json()
            for i in range(3)
        ]
        sleep_until(due + timedelta(seconds=1.5))
    finally:
        for server in servers:
            server.stop()
    app = PressOffice(env=sqlite_settings.eventsourcing_env())
    for statement in created:
        from uuid import UUID

        events = list(app.events.get(UUID(statement["id"])))
        assert [type(e).__name__ for e in events].count("Published") == 1


def test_a_failed_publication_is_retried_not_dropped(services, embargoes):
    app = services.press_office
    real = app.publish_embargoed
    failures = []

    def fail_once(*args, **kwargs):
        if not failures:
            failures.append("database is locked")
            raise RuntimeError("database is locked")
        return real(*args, **kwargs)

    app.publish_embargoed = fail_once
    statement = schedule_new(app, soon(0.5), "Retried")
    sleep_until(soon(0) + timedelta(seconds=2.5))
    assert failures == ["database is locked"]
    published = app.get_statement(statement.id)
    assert published.status == "published"
    assert published.planned_publication_at == statement.publish_at


def test_a_scheduled_statement_shows_its_planned_time_from_scheduling_on(
    services, publisher
):
    client = create_app(services=services).test_client()
    embargo = soon(3600).replace(microsecond=0)
    created = client.post(
        "/api/statements",
        json={"title": "Planned", "body": "x", "kind": "news", "draft": True},
        headers=publisher,
    ).get_json()
    assert created["planned_publication_at"] is None
    path = f"/api/statements/{created['id']}"
    scheduled = client.put(
        f"{path}/schedule", json={"publish_at": embargo.isoformat()}, headers=publisher
    ).get_json()
    planned = scheduled["publish_at"]
    assert scheduled["planned_publication_at"] == planned
    services.worker.wait_until(services.press_office.recorder.max_notification_id())
    [row] = services.views.query(
        "SELECT document FROM {t} WHERE id = ?", [created["id"]], t="pf_catalogue"
    )
    assert json.loads(row["document"])["planned_publication_at"] == planned
    unscheduled = client.delete(f"{path}/schedule", headers=publisher).get_json()
    assert unscheduled["planned_publication_at"] is None
    client.put(
        f"{path}/schedule", json={"publish_at": embargo.isoformat()}, headers=publisher
    )
    published = client.post(f"{path}/publication", headers=publisher).get_json()
    assert published["status"] == "published"
    assert published["planned_publication_at"] == planned  # published before it
    retracted_while_scheduled = client.post(
        "/api/statements",
        json={
            "title": "Withdrawn under embargo",
            "body": "x",
            "kind": "news",
            "publish_at": embargo.isoformat(),
        },
        headers=publisher,
    ).get_json()
    assert retracted_while_scheduled["planned_publication_at"] == planned
    retracted = client.post(
        f"/api/statements/{retracted_while_scheduled['id']}/retraction",
        json={"reason": "Cancelled"},
        headers={**publisher, "If-Match": '"2"'},
    ).get_json()
    assert retracted["planned_publication_at"] is None


def test_the_scheduler_logs_what_an_operator_needs_and_no_routine_lines(
    services, monkeypatch, caplog
):
    import pressfeed.scheduler

    monkeypatch.setattr(pressfeed.scheduler, "RESYNC_SECONDS", 0.2)
    with caplog.at_level(logging.INFO):
        scheduler = EmbargoScheduler(services.press_office, services.views)
        services.worker.on_change.append(scheduler.sync)
        scheduler.start()
        try:
            statement = schedule_new(services.press_office, soon(0.5), "Logged")
            time.sleep(1.5)  # seven resyncs, one publication
        finally:
            scheduler.stop()
    assert services.press_office.get_statement(statement.id).status == "published"
    messages = [
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith(("apscheduler", "pressfeed.scheduler"))
    ]
    published = [m for m in messages if f"Published {statement.id}" in m]
    assert len(published) == 1
    routine = [m for m in messages if m not in published]
    assert len(routine) <= 2, routine  # at most a line when it starts and stops


def held_for_review(services, due: datetime):
    """A statement wanda wrote, paul approved for due, and wanda then changed:
    held for review, the views caught up."""
    app = services.press_office
    draft = app.create_statement(
        NewStatement(title="Held words", body="As approved.", kind="news", draft=True),
        actor="wanda",
    ).statement
    app.submit_for_review(draft.id, actor="wanda")
    app.approve(draft.id, actor="paul", publish_at=due)
    app.amend(
        draft.id,
        expected_version=None,
        changes={"body": "Words nobody approved."},
        change_note=None,
        minor=False,
        actor="wanda",
    )
    services.worker.wait_until(app.recorder.max_notification_id() or 0)
    return draft


def test_an_embargoed_text_changed_after_approval_waits_for_a_new_one(
    services, embargoes, client
):
    """The scheduler never publishes words no publisher approved: the changed
    text is held past its time, in review, until a publisher approves it."""
    app = services.press_office
    due = soon(1.5)
    draft = held_for_review(services, due)
    sleep_until(due + timedelta(seconds=1.5))
    held = app.get_statement(draft.id)
    assert (held.status, held.in_review) == ("scheduled", True)
    assert not any(publicly_visible(client, held).values())
    assert client.get(f"/statements/{held.slug}").status_code == 404
    app.approve(draft.id, actor="paul")  # and publish now
    assert app.get_statement(draft.id).status == "published"


def test_approving_a_held_statement_keeps_its_embargo(services):
    """An approval without a new time neither publishes early nor drops the
    embargo: the statement goes back on the schedule at its time."""
    app = services.press_office
    due = soon(86_400)
    draft = held_for_review(services, due)
    assert draft.id not in scheduled_statements(services.views)  # held
    app.approve(draft.id, actor="paul")  # through the API: no publish_at
    approved = app.get_statement(draft.id)
    assert (approved.status, approved.publish_at, approved.approved_by) == (
        "scheduled",
        due,
        "paul",
    )
    services.worker.wait_until(app.recorder.max_notification_id() or 0)
    assert scheduled_statements(services.views)[draft.id] == due
