"""Rebuilding the views never takes the site down: the log is replayed into
shadow tables while the live views keep serving and following the log, and the
new views take their place in one transaction."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests
from lxml import etree

from pressfeed.application import NewStatement, PressOffice
from pressfeed.assembly import Pressfeed
from pressfeed.projections import SCHEMA_VERSION, open_views
from pressfeed.projections.base import SHADOW_SUFFIX, ViewsOutdated
from pressfeed.projections.catalogue import TABLE as CATALOGUE
from pressfeed.projections.check import check_views
from pressfeed.projections.rebuild import RETIRED_SUFFIX, rebuild_in_shadow
from pressfeed.storage import rebuild_lock, relation_kind
from tests.conftest import POSTGRES_URL, make_settings
from tests.helpers import PRESSFEED, Server, env_for, wait_for_views

ATOM = "{http://www.w3.org/2005/Atom}"
STATEMENTS = 20_000


def import_statements(app: PressOffice, count: int, first: int = 0) -> list:
    start = datetime(2012, 1, 1, tzinfo=UTC)
    return app.import_statements(
        [
            NewStatement(
                title=f"Statement {n}",
                body=f"Wording number {n} of the embassy's statement.",
                kind="news",
                tags=["archive"],
                published_at=start + timedelta(hours=n),
            )
            for n in range(first, first + count)
        ],
        actor="import",
    )


def made_by_the_previous_version(settings, statements: int) -> None:
    """A store whose views a pressfeed of the previous layout made."""
    first = Pressfeed(settings)
    import_statements(first.press_office, statements)
    first.projection_worker().catch_up()
    first.views.execute(
        "UPDATE {m} SET value = ? WHERE name = 'schema'",
        [str(SCHEMA_VERSION - 1)],
        m=first.views.META,
    )
    with first.views.cursor(commit=True) as c:
        as_the_previous_layout_stored_them(c, first.views)
    first.close()


def as_the_previous_layout_stored_them(c, views) -> None:
    """Layout 18's tables: the changes and the archive with every document
    in place (now SQL views of those names), a table of snapshots, and the
    one an interrupted rebuild of layout 18 left."""
    d = views.dialect
    for name in PREVIOUS_READS:
        c.execute(
            d.sql("CREATE TABLE {o} AS SELECT * FROM {t}", o=name + "_18", t=name)
        )
    views.drop_readings(c)
    for name in PREVIOUS_READS:
        c.execute(d.sql(f'ALTER TABLE {{o}} RENAME TO "{name}"', o=name + "_18"))
    for snapshots in ("pf_statement_states", "pf_statement_states" + SHADOW_SUFFIX):
        c.execute(d.sql("CREATE TABLE {t} (id TEXT PRIMARY KEY)", t=snapshots))


# What a process of the previous layout reads, as it read it.
PREVIOUS_READS = {
    "pf_public_changes": "SELECT position, version, what, at_us, note, diff, "
    "document FROM {t} ORDER BY position",
    "pf_archive": "SELECT language, seq, statement_id, document FROM {t} "
    "ORDER BY language, seq",
}


def previous_reads(views) -> dict[str, list[dict]]:
    return {
        name: [dict(row) for row in views.query(query, t=name)]
        for name, query in PREVIOUS_READS.items()
    }


def feed_entries(url: str) -> tuple[int, list[str]]:
    response = requests.get(url, timeout=30)
    if response.status_code != 200:
        return response.status_code, []
    root = etree.fromstring(response.content)
    return 200, [e.findtext(f"{ATOM}id") for e in root.iter(f"{ATOM}entry")]


class FeedPoller:
    """A feed reader polling a feed as fast as it is answered, keeping each
    answer's status and entries."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[int, list[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.answers.append(feed_entries(self.url))

    def __enter__(self) -> FeedPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def view_tables(pressfeed: Pressfeed) -> set[str]:
    """The names of the tables that belong to the views or to a rebuild."""
    d = pressfeed.views.dialect
    if d.postgres:
        rows = pressfeed.views.query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = ?", [d.schema]
        )
    else:
        rows = pressfeed.views.query(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    return {row["name"] for row in rows if row["name"].startswith("pf_")}


@pytest.fixture
def pressfeed(settings):
    pressfeed = Pressfeed(settings)
    yield pressfeed
    pressfeed.close()


def test_a_reader_polling_the_feed_during_a_rebuild_always_gets_the_full_feed(
    settings, pressfeed
):
    statements = import_statements(pressfeed.press_office, STATEMENTS)
    pressfeed.projection_worker(batch_size=1000).catch_up()
    server = Server(settings)
    try:
        feed = f"{server.url}/feeds/all.atom"
        status, before = feed_entries(feed)
        assert status == 200 and len(before) == 50
        with FeedPoller(feed) as poller:
            rebuild = subprocess.Popen(
                [PRESSFEED, "rebuild"],
                env=env_for(settings),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            time.sleep(2)  # the replay is under way: a correction meanwhile
            newest = statements[-1]
            pressfeed.press_office.amend(
                newest.id,
                expected_version=None,
                changes={"title": "Statement corrected during the rebuild"},
                change_note="Corrected while the views were rebuilt.",
                minor=False,
                actor="desk",
            )
            output, _ = rebuild.communicate(timeout=600)
            during = len(poller.answers)
        assert rebuild.returncode == 0 and "Rebuilt the views from" in output
        assert during > 20, "the reader polled all through the rebuild"
        for status, entries in poller.answers:
            assert status == 200
            assert len(entries) == 50 and set(entries) == set(before)
        wait_for_views(server.url)
        assert requests.get(feed, timeout=30).text.count("corrected during") == 1
    finally:
        server.stop()
    assert not {t for t in view_tables(pressfeed) if t.endswith(SHADOW_SUFFIX)}
    assert (
        check_views(
            pressfeed.settings, pressfeed.press_office, pressfeed.views, print
        ).differences
        == 0
    )


def test_an_older_layout_keeps_serving_until_the_new_one_is_swapped_in(settings):
    made_by_the_previous_version(settings, statements=300)
    upgraded = Pressfeed(settings)  # as the next version starts: it rebuilds
    try:
        assert upgraded.views.layout_is_current()
        rows = upgraded.views.query("SELECT COUNT(*) AS n FROM {t}", t=CATALOGUE)
        assert rows[0]["n"] == 300
        assert not {
            t
            for t in view_tables(upgraded)
            if t.endswith((SHADOW_SUFFIX, RETIRED_SUFFIX))
            or t in upgraded.views.FORMER_TABLES
        }
    finally:
        upgraded.close()


def test_a_process_of_the_previous_layout_reads_the_same_after_the_swap(settings):
    """During an upgrade the old processes serve on until the new ones are
    ready: the changes and the archive they read keep their names and
    columns, every document in place."""
    made_by_the_previous_version(settings, statements=60)
    old = open_views(settings)  # as an old process holds them: it reads on
    assert not old.layout_is_current()
    with old.cursor() as c:
        kinds = {relation_kind(c, old.dialect, name) for name in PREVIOUS_READS}
    assert kinds == {"table"}
    before = previous_reads(old)
    assert all(row["document"] for rows in before.values() for row in rows)
    upgraded = Pressfeed(settings)  # rebuilds in shadow and swaps
    try:
        assert upgraded.views.layout_is_current()
        assert previous_reads(old) == before
    finally:
        upgraded.close()
        old.datastore.close()


def test_the_rebuild_command_rebuilds_an_older_layout(settings):
    """The operator's first command after an upgrade: it must not wait for the
    rebuild lock it holds itself."""
    made_by_the_previous_version(settings, statements=30)
    done = subprocess.run(
        [PRESSFEED, "rebuild"],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Rebuilt the views from 90 events." in done.stdout
    upgraded = Pressfeed(settings)
    try:
        assert upgraded.views.layout_is_current()
        rows = upgraded.views.query("SELECT COUNT(*) AS n FROM {t}", t=CATALOGUE)
        assert rows[0]["n"] == 30
    finally:
        upgraded.close()


def test_a_process_does_not_start_on_views_a_newer_version_built(settings):
    """Going back is the operator's decision (pressfeed rebuild), never what a
    process of the older version does on its way up: two versions would
    otherwise rebuild the views from under each other."""
    made_by_the_previous_version(settings, statements=5)
    first = Pressfeed(settings)
    first.views.execute(
        "UPDATE {m} SET value = ? WHERE name = 'schema'",
        [str(SCHEMA_VERSION + 1)],
        m=first.views.META,
    )
    first.close()
    older = Pressfeed(settings)
    try:
        with pytest.raises(ViewsOutdated, match="pressfeed rebuild"):
            older.views  # noqa: B018
        assert older.rebuild_views() > 0
        assert older.views.layout_is_current()
    finally:
        older.close()


def test_views_an_older_version_retired_with_its_tables_are_dropped(settings):
    """An older version's swap renames whatever bears its tables' names: on
    PostgreSQL the SQL views too, which then hold its retired tables."""
    pressfeed = Pressfeed(settings)
    import_statements(pressfeed.press_office, 5)
    pressfeed.projection_worker().catch_up()
    views, d = pressfeed.views, pressfeed.views.dialect
    with views.cursor(commit=True) as c:
        c.execute(
            d.sql(
                "CREATE TABLE {r} AS SELECT * FROM {t}",
                r=CATALOGUE + RETIRED_SUFFIX,
                t=CATALOGUE,
            )
        )
        c.execute(
            d.sql(
                "CREATE VIEW {v} AS SELECT id, document FROM {r}",
                v="pf_public_changes" + RETIRED_SUFFIX,
                r=CATALOGUE + RETIRED_SUFFIX,
            )
        )
    try:
        assert pressfeed.rebuild_views() > 0
        with views.cursor() as c:
            left = {
                name
                for name in (CATALOGUE, "pf_public_changes")
                if relation_kind(c, d, name + RETIRED_SUFFIX)
            }
        assert not left
    finally:
        pressfeed.close()


def test_a_process_of_an_older_version_stops_writing_views_it_does_not_know(
    pressfeed,
):
    import_statements(pressfeed.press_office, 3)
    worker = pressfeed.projection_worker()
    worker.catch_up()
    pressfeed.views.execute(
        "UPDATE {m} SET value = ? WHERE name = 'schema'",
        [str(SCHEMA_VERSION + 1)],
        m=pressfeed.views.META,
    )
    import_statements(pressfeed.press_office, 1, first=3)
    position = worker.position
    with pytest.raises(ViewsOutdated):
        worker.catch_up()
    assert worker.position == position


def test_an_interrupted_rebuild_leaves_the_live_views_and_goes_on_where_it_stopped(
    pressfeed,
):
    import_statements(pressfeed.press_office, 30)
    pressfeed.projection_worker().catch_up()
    live = pressfeed.views.query(
        "SELECT id, document FROM {t} ORDER BY id", t=CATALOGUE
    )

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild_in_shadow(
            pressfeed.press_office, pressfeed.views, batch_size=10, progress=interrupt
        )
    assert f"{CATALOGUE}{SHADOW_SUFFIX}" in view_tables(pressfeed)
    assert (
        pressfeed.views.query("SELECT id, document FROM {t} ORDER BY id", t=CATALOGUE)
        == live
    )
    total = pressfeed.ledger.size()
    assert 0 < pressfeed.rebuild_views() < total  # the first batch was kept
    assert not {
        t for t in view_tables(pressfeed) if t.endswith((SHADOW_SUFFIX, RETIRED_SUFFIX))
    }
    rebuilt = pressfeed.views.query(
        "SELECT id, document FROM {t} ORDER BY id", t=CATALOGUE
    )
    assert [tuple(r) for r in rebuilt] == [tuple(r) for r in live]
    pressfeed.rebuild_views()  # and again: new index names never collide
    assert (
        check_views(
            pressfeed.settings, pressfeed.press_office, pressfeed.views, print
        ).differences
        == 0
    )


def test_a_long_reader_delays_the_swap_without_queueing_other_readers(
    tmp_path, postgres_url, caplog
):
    """PostgreSQL: a rename waits for readers of the table, and every reader
    that comes after would queue behind it; the swap gives up its turn every
    few seconds instead, and goes through once the long reader is done."""
    settings = make_settings(tmp_path, postgres_url)
    pressfeed = Pressfeed(settings)
    try:
        import_statements(pressfeed.press_office, 20)
        pressfeed.projection_worker().catch_up()
        schema = pressfeed.views.dialect.schema
        reader = psycopg.connect(POSTGRES_URL)  # a transaction left open
        reader.execute(f'SELECT count(*) FROM "{schema}"."{CATALOGUE}"')
        release = threading.Timer(3.0, reader.rollback)
        release.start()
        waits = []

        def other_reader() -> None:
            while release.is_alive():
                started = time.monotonic()
                pressfeed.views.query("SELECT COUNT(*) AS n FROM {t}", t=CATALOGUE)
                waits.append(time.monotonic() - started)
                time.sleep(0.05)

        meanwhile = threading.Thread(target=other_reader)
        meanwhile.start()
        with caplog.at_level(logging.WARNING):
            pressfeed.rebuild_views()
        meanwhile.join()
        reader.close()
        assert "swap attempt 1" in caplog.text
        assert max(waits) < 2.5  # never queued for more than one attempt's wait
        report = check_views(settings, pressfeed.press_office, pressfeed.views, print)
        assert report.differences == 0
    finally:
        pressfeed.close()


def test_one_rebuild_at_a_time_per_press_office_not_per_database(
    tmp_path, postgres_url
):
    """Press offices in two schemas of one database rebuild side by side; two
    processes of the same one take turns."""
    other = f"pf_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{other}"')
    ours = make_settings(tmp_path / "ours", postgres_url)
    theirs = make_settings(tmp_path / "theirs", f"{POSTGRES_URL}?schema={other}")

    def rebuilding(settings) -> threading.Event:
        entered = threading.Event()

        def take() -> None:
            with rebuild_lock(settings):
                entered.set()

        threading.Thread(target=take, daemon=True).start()
        return entered

    try:
        with rebuild_lock(ours):
            assert rebuilding(theirs).wait(10)
            same = rebuilding(ours)
            assert not same.wait(1)
        assert same.wait(10)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{other}" CASCADE')


def test_serve_on_an_older_layout_rebuilds_before_it_answers(settings):
    """`pressfeed serve` of the next version: the first answer already comes
    from views of its own layout."""
    made_by_the_previous_version(settings, statements=30)
    server = Server(settings)
    try:
        status, entries = feed_entries(f"{server.url}/feeds/all.atom")
        assert (status, len(entries)) == (200, 30)
        reopened = Pressfeed(settings)
        assert reopened.views.layout_is_current()
        reopened.close()
    finally:
        server.stop()


def test_postgres_views_serve_vacuumed_and_analysed_after_a_rebuild(
    tmp_path, postgres_url
):
    """The rebuilt tables come with the planner's statistics and a visibility
    map (index-only scans), instead of waiting for autovacuum; and statistics
    of the whole tables, even when the live views had applied nothing yet (an
    import, then a rebuild), since a worker's cached plans would keep the
    sequential scans that statistics of empty tables call for."""
    pressfeed = Pressfeed(make_settings(tmp_path, postgres_url))
    try:
        import_statements(pressfeed.press_office, 30)
        pressfeed.rebuild_views()
        schema = pressfeed.views.dialect.schema
        with psycopg.connect(POSTGRES_URL) as conn:
            rows = conn.execute(
                "SELECT s.last_vacuum, s.last_analyze, c.reltuples "
                "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                "WHERE s.schemaname = %s AND s.relname = %s",
                (schema, CATALOGUE),
            ).fetchall()
        assert len(rows) == 1
        vacuumed, analysed, estimated_rows = rows[0]
        assert vacuumed is not None and analysed is not None
        assert estimated_rows == 30
    finally:
        pressfeed.close()
