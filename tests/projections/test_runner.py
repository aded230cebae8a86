"""The projection worker applies the log to the views exactly once, resumably."""

from __future__ import annotations

import threading

from pressfeed.application import NewStatement, PressOffice
from pressfeed.projections import open_views
from pressfeed.projections.catalogue import list_statements
from pressfeed.projections.changes import latest_changes
from pressfeed.projections.runner import ProjectionWorker, StatementMemory


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
            press_office.name, events, start, stale[-1].id, worker.memory
        )
        is None
    )
    assert worker.position == 0
    worker.catch_up()
    assert len(list_statements(worker.views, limit=100)[0]) == 8


def stored_documents(views) -> list[tuple]:
    """The documents the changes and the archive store of their own (None:
    the catalogue's), as they are on disk."""
    changes = views.query(
        "SELECT position, document FROM {t} ORDER BY position", t="pf_change_entries"
    )
    archive = views.query(
        "SELECT seq, document FROM {t} ORDER BY language, seq", t="pf_archive_entries"
    )
    return [(r["position"], r["document"]) for r in changes] + [
        (r["seq"], r["document"]) for r in archive
    ]


def amended_twice(app: PressOffice) -> None:
    statement = app.create_statement(
        NewStatement(title="Version 2", body="First text.", kind="news"), actor="po"
    ).statement
    for title in ("Version 3", "Version 4"):
        statement = app.amend(
            statement.id,
            expected_version=statement.version,
            changes={"title": title},
            change_note=f"Now {title}",
            minor=False,
            actor="po",
        ).statement


def test_each_version_is_stored_once_and_each_change_reads_its_own(
    settings, press_office
):
    amended_twice(press_office)
    worker = ProjectionWorker(press_office, open_views(settings))
    worker.catch_up()
    changes = latest_changes(worker.views)
    assert [(c["version"], c["statement"]["title"]) for c in changes] == [
        (4, "Version 4"),
        (3, "Version 3"),
        (2, "Version 2"),
    ]
    documents = [document for _, document in stored_documents(worker.views)]
    # The latest change and the archive entry of an open page are the
    # catalogue's document; the earlier changes keep their own.
    assert documents.count(None) == 2
    assert all('"Version 4"' not in d for d in documents if d is not None)


def test_the_views_store_the_same_however_the_log_was_batched(settings, press_office):
    create_some(press_office, 12)
    amended_twice(press_office)
    views = open_views(settings)
    ProjectionWorker(press_office, views, batch_size=1000).catch_up()
    in_one_batch = stored_documents(views), snapshot_of_views(views)
    views.reset(press_office.name)
    ProjectionWorker(press_office, views, batch_size=1).catch_up()
    assert (stored_documents(views), snapshot_of_views(views)) == in_one_batch


def test_a_worker_reads_the_statements_it_does_not_remember_from_the_log(
    settings, press_office
):
    create_some(press_office, 12)
    amended_twice(press_office)
    views = open_views(settings)
    ProjectionWorker(press_office, views).catch_up()
    remembering = stored_documents(views), snapshot_of_views(views)
    views.reset(press_office.name)
    forgetful = ProjectionWorker(press_office, views, batch_size=3)
    forgetful.memory = StatementMemory(press_office, size=0)
    forgetful.catch_up()
    assert (stored_documents(views), snapshot_of_views(views)) == remembering
