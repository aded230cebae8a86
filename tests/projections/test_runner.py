"""The projection worker applies the log to the views exactly once, resumably."""

from __future__ import annotations

import threading

from pressfeed.application import NewStatement, PressOffice
from pressfeed.projections import open_views
from pressfeed.projections.catalogue import list_statements
from pressfeed.projections.runner import ProjectionWorker


def snapshot_of_views(views) -> list[tuple]:
    rows = views.query(
        "SELECT id, status, version, document FROM {t} ORDER BY id", t="pf_catalogue"
    )
    return [
        tuple(row[k] for k in ("id", "status", "version", "document")) for row in rows
    ]


def create_some(app: PressOffice, count: int) -> None:
    for i in range(count):
        result = app.create_statement(
            NewStatement(
                title=f"Statement {i}", body="Text", kind="news", draft=i % 3 == 0
            ),
            actor="po",
        )
        if i % 4 == 0:
            app.amend(
                result.statement.id,
                expected_version=result.statement.version,
                changes={"body": f"Text {i}"},
                change_note="More",
                minor=False,
                actor="po",
            )


def test_the_worker_catches_up_and_reports_no_lag(settings, press_office):
    create_some(press_office, 10)
    worker = ProjectionWorker(press_office, open_views(settings))
    assert worker.lag() > 0
    worker.catch_up()
    assert worker.lag() == 0
    page, _ = list_statements(worker.views, limit=100)
    assert len(page) == 10
    assert page[0]["title"] == "Statement 9"


def test_two_workers_racing_apply_each_event_once(settings, press_office):
    create_some(press_office, 30)
    workers = [
        ProjectionWorker(
            PressOffice(env=settings.eventsourcing_env()),
            open_views(settings),
            batch_size=7,
        )
        for _ in range(2)
    ]
    threads = [threading.Thread(target=w.catch_up) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    raced = snapshot_of_views(workers[0].views)

    workers[0].views.reset(press_office.name)
    workers[0].catch_up()
    assert snapshot_of_views(workers[0].views) == raced
    assert len(raced) == 30
    versions = {row[0]: row[2] for row in raced}
    for statement_id, version in versions.items():
        from uuid import UUID

        assert press_office.get_statement(UUID(statement_id)).version == version


def test_a_worker_resumes_from_the_tracked_position(settings, press_office):
    create_some(press_office, 5)
    first = ProjectionWorker(press_office, open_views(settings))
    first.catch_up()
    position = first.position
    create_some(press_office, 3)
    second = ProjectionWorker(press_office, open_views(settings))
    assert second.position == position
    recorded_since = press_office.recorder.select_notifications(
        start=position, limit=1000, inclusive_of_start=False
    )  # counted, not subtracted: PostgreSQL's positions skip a refused insert's
    assert second.catch_up() == len(recorded_since) > 0


def test_a_batch_read_before_a_rebuild_is_not_applied_after_it(settings, press_office):
    create_some(press_office, 6)
    worker = ProjectionWorker(press_office, open_views(settings))
    worker.catch_up()
    create_some(press_office, 2)
    start = worker.position
    stale = press_office.recorder.select_notifications(
        start=start, limit=100, inclusive_of_start=False
    )
    events = [
        (n.id, press_office.mapper.to_domain_event(n))
        for n in stale
        if "Statement." in n.topic
    ]
    worker.views.reset(press_office.name)
    assert (
        worker.views.apply_batch(
            press_office.name, events, start, stale[-1].id, worker.codec
        )
        is None
    )
    assert worker.position == 0
    worker.catch_up()
    assert len(list_statements(worker.views, limit=100)[0]) == 8
