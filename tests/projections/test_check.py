"""`pressfeed verify --views`: a view row edited in the store is named (table,
statement, column, live and replayed values) while the chain still verifies; an
untouched store, and a worker that is behind the log, pass; the live views are
only read, and the scratch copy is gone afterwards."""

from __future__ import annotations

import json
import tempfile
import threading
from datetime import UTC, datetime, timedelta

import psycopg

from pressfeed.application import NewStatement, PressOffice
from pressfeed.assembly import Pressfeed
from pressfeed.projections.check import COMPARED, check_views
from pressfeed.projections.websub import WebSubOutboxView
from tests.conftest import POSTGRES_URL
from tests.helpers import run_cli


def write_statements(app: PressOffice, count: int) -> list:
    """Statements of every kind of row: tags (one not ASCII), amendments, a
    retraction, a scheduled one."""
    ids = []
    for i in range(count):
        result = app.create_statement(
            NewStatement(
                title=f"Statement {i}",
                body=f"Body {i}",
                kind="news",
                tags=("visa", "образование") if i % 2 else ("trade",),
            ),
            actor="po",
        )
        statement = result.statement
        statement = app.amend(
            statement.id,
            expected_version=statement.version,
            changes={"body": f"Amended {i}"},
            change_note=f"Note {i}",
            minor=False,
            actor="editor",
        ).statement
        ids.append(statement.id)
    app.retract(ids[0], expected_version=None, reason="Wrong", actor="po")
    embargoed = app.create_statement(
        NewStatement(
            title="Embargoed",
            body="Later",
            kind="news",
            publish_at=datetime.now(UTC) + timedelta(days=1),
        ),
        actor="po",
    )
    ids.append(embargoed.statement.id)
    return ids


def caught_up(settings, count: int = 4) -> tuple[Pressfeed, list]:
    pressfeed = Pressfeed(settings)
    ids = write_statements(pressfeed.press_office, count)
    pressfeed.projection_worker().catch_up()
    return pressfeed, ids


def verify_views(settings) -> tuple[int, list[str], dict]:
    result = run_cli(settings, "verify", "--views", check=False)
    lines = result.stdout.strip().splitlines()
    return result.returncode, lines, json.loads(lines[-1])


def view_rows(pressfeed: Pressfeed) -> list:
    views = pressfeed.views
    rows = []
    for table in ("pf_catalogue", "pf_public_changes", "pf_archive", "pf_schedule"):
        rows += [dict(r) for r in views.query("SELECT * FROM {t}", t=table)]
    return rows


def test_an_untouched_store_passes_with_a_count(settings):
    pressfeed, _ = caught_up(settings)
    head = pressfeed.press_office.recorder.max_notification_id()
    pressfeed.close()
    code, lines, summary = verify_views(settings)
    assert code == 0
    assert json.loads(lines[0])["ok"] is True  # the chain's report first
    assert summary == {
        "views_ok": True,
        "views_position": head,
        # 5 catalogue, 6 tags, 9 public changes, 4 archive, 1 schedule,
        # 4 counts (published and withdrawn, in their year and their month),
        # 5 search rows; and the 9 changes and 4 entries as readers read them
        "rows_compared": 47,
        "differences": 0,
    }


def test_an_edited_view_row_is_named_while_the_chain_verifies(settings):
    pressfeed, ids = caught_up(settings)
    edited, other = str(ids[1]), str(ids[2])
    tables = pressfeed.views.tables
    tables.execute(
        "UPDATE {t} SET document = replace(document, 'Amended 1', 'Forged 1') "
        "WHERE id = ?",
        [edited],
        t="pf_catalogue",
    )
    tables.execute(
        "UPDATE {t} SET note = 'A note never written' "
        "WHERE statement_id = ? AND what = 'amended'",
        [other],
        t="pf_change_entries",
    )
    pressfeed.close()
    chain = run_cli(settings, "verify", check=False)
    assert chain.returncode == 0
    assert json.loads(chain.stdout)["ok"] is True
    code, lines, summary = verify_views(settings)
    assert code == 1
    # Each forged row once as stored, and again where readers read it: the
    # note in the changes, the text in the change and the archive entry that
    # show the catalogue's.
    assert summary["differences"] == 5
    read = [line.split(" [")[0] for line in lines if " live " in line]
    assert sorted(read) == sorted(
        ["pf_catalogue", "pf_change_entries", *["pf_public_changes"] * 2, "pf_archive"]
    )
    (catalogue,) = [line for line in lines if line.startswith("pf_catalogue ")]
    assert f"statement {edited}: document live " in catalogue
    assert "Forged 1" in catalogue.split(" replayed ")[0]
    assert "Amended 1" in catalogue.split(" replayed ")[1]
    (change,) = [line for line in lines if line.startswith("pf_change_entries ")]
    assert f"statement {other}: note live 'A note never written' replayed 'Note 2'" in (
        change
    )


def test_every_column_of_every_replayed_table_is_compared(sqlite_settings):
    """A column left out of the comparison is a place to forge unseen: every
    view table the replay writes, and each of its columns, is compared."""
    pressfeed, _ = caught_up(sqlite_settings)
    views = pressfeed.views
    compared = {c.table: c for c in COMPARED}
    not_compared = {views.PUBLIC_STAMP, *WebSubOutboxView.tables}
    readings = {name for v in views.views for name in v.readings(views.dialect)}
    assert (set(views.view_tables) | readings) - not_compared == set(compared)
    for table, rule in compared.items():
        if rule.sqlite_rows is not None:  # FTS5: compared through its own SELECT
            continue
        columns = {r["name"] for r in views.query(f"PRAGMA table_info({table})")}
        assert columns == {*rule.key, *rule.columns}, table
    pressfeed.close()


def test_a_forged_reading_of_the_stored_rows_is_named(settings):
    """Readers read the changes through an SQL view: one that rewrites the
    text is reported, though the stored rows are untouched."""
    pressfeed, _ = caught_up(settings)
    views = pressfeed.views
    with views.cursor(commit=True) as c:
        views.drop_readings(c)
        views.create_readings(c)  # made as this code makes them: no difference
        c.execute(views.dialect.sql("DROP VIEW {v}", v="pf_public_changes"))
        c.execute(
            views.dialect.sql(
                "CREATE VIEW {v} AS SELECT r.position, r.statement_id, r.version, "
                "r.what, r.at_us, r.note, r.diff, "
                "replace(COALESCE(r.document, s.document), 'Body', 'FORGED') "
                "AS document, r.language, r.seq "
                "FROM {t} r JOIN {s} s ON s.id = r.statement_id",
                v="pf_public_changes",
                t="pf_change_entries",
                s="pf_catalogue",
            )
        )
    pressfeed.close()
    code, lines, summary = verify_views(settings)
    assert code == 1 and summary["views_ok"] is False
    forged = [line for line in lines if line.startswith("pf_public_changes ")]
    assert forged and all(": document live " in line for line in forged)
    assert not [line for line in lines if line.startswith("pf_change_entries ")]


def test_a_statement_moved_to_another_language_is_named(settings):
    """Forged into the French feeds and archive, it is reported."""
    pressfeed, ids = caught_up(settings)
    moved = str(ids[1])
    for table in ("pf_change_entries", "pf_archive_entries"):
        pressfeed.views.tables.execute(
            "UPDATE {t} SET language = 'fr' WHERE statement_id = ?", [moved], t=table
        )
    pressfeed.close()
    code, lines, summary = verify_views(settings)
    assert code == 1 and summary["views_ok"] is False
    assert any(
        line.startswith("pf_change_entries ")
        and f"statement {moved}: language live 'fr' replayed 'en'" in line
        for line in lines
    ), lines
    assert any(
        line.startswith("pf_archive_entries ") and f"statement {moved}" in line
        for line in lines
    ), lines


def test_a_forged_search_text_is_named(settings):
    """A search matches, and shows as its snippet, what its index holds."""
    pressfeed, ids = caught_up(settings)
    views = pressfeed.views
    if views.dialect.postgres:
        views.tables.execute(
            "UPDATE {t} SET document = to_tsvector('english', 'ambassador resigned') "
            "WHERE id = ?",
            [str(ids[1])],
            t="pf_search",
        )
    else:
        views.tables.execute(
            "UPDATE {t} SET body = 'FORGED: the ambassador resigned.' "
            "WHERE rowid = (SELECT rowid FROM {c} WHERE id = ?)",
            [str(ids[1])],
            t="pf_search",
            c="pf_catalogue",
        )
    pressfeed.close()
    code, lines, summary = verify_views(settings)
    assert code == 1 and summary["differences"] == 1
    (line,) = [line for line in lines if line.startswith("pf_search ")]
    assert f"statement {ids[1]}: indexed live " in line and "resign" in line


def test_a_deleted_row_an_added_row_and_an_edited_version_are_named(settings):
    pressfeed, ids = caught_up(settings)
    tables = pressfeed.views.tables
    tables.execute("DELETE FROM {t} WHERE seq = 2", t="pf_archive_entries")
    tables.execute(
        "INSERT INTO {t} (tag, statement_id, changed_us) VALUES ('forged', ?, 1)",
        [str(ids[3])],
        t="pf_catalogue_tags",
    )
    tables.execute(
        "UPDATE {t} SET version = version + 1 WHERE id = ?",
        [str(ids[2])],
        t="pf_catalogue",
    )
    pressfeed.close()
    code, lines, summary = verify_views(settings)
    assert code == 1
    assert summary["differences"] == 4  # the missing entry, as stored and as read
    for table in ("pf_archive_entries", "pf_archive"):
        assert any(
            line.startswith(f"{table} [en, 2] ")
            and "row live missing replayed present" in line
            for line in lines
        )
    assert any(
        line.startswith(f"pf_catalogue_tags [{ids[3]}, forged] ")
        and "row live present replayed missing" in line
        for line in lines
    )
    assert any(
        line.startswith(f"pf_catalogue [{ids[2]}] ") and ": version live " in line
        for line in lines
    )


def test_a_worker_behind_the_log_is_compared_up_to_its_position(settings):
    pressfeed, _ = caught_up(settings)
    position = pressfeed.views_position()
    write_statements(pressfeed.press_office, 2)  # not projected yet
    assert pressfeed.views_lag() > 0
    pressfeed.close()
    code, _, summary = verify_views(settings)
    assert (code, summary["views_position"], summary["differences"]) == (0, position, 0)


def test_it_compares_in_small_batches_and_leaves_the_live_views_alone(
    settings, tmp_path, monkeypatch
):
    """Rows are merged in key order a batch at a time (here two rows), the live
    views and their position are as before, and the scratch copy is gone."""
    pressfeed, ids = caught_up(settings, count=7)
    before, position = view_rows(pressfeed), pressfeed.views_position()
    pressfeed.views.tables.execute(
        "UPDATE {t} SET publish_at_us = publish_at_us + 1", t="pf_schedule"
    )
    found = []
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_dir))
    outcome = check_views(
        settings, pressfeed.press_office, pressfeed.views, found.append, 2
    )
    assert [(d.table, d.statement, d.column) for d in found] == [
        ("pf_schedule", str(ids[-1]), "publish_at_us")
    ]
    # 8 catalogue, 10 tags, 15 public changes, 7 archive, 1 schedule,
    # 4 counts, 8 search rows; 15 changes and 7 entries as readers read them
    assert outcome.rows == 75
    after = view_rows(pressfeed)
    assert len(after) == len(before) and pressfeed.views_position() == position
    assert list(scratch_dir.iterdir()) == []
    if settings.uses_postgres:
        with psycopg.connect(POSTGRES_URL) as conn:
            left = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pf_verify_%'"
            ).fetchall()
        assert left == []
    pressfeed.close()


def test_a_running_worker_is_not_taken_for_tampering(settings):
    """While statements are written and a worker projects them, the check sees
    the views at one moment and replays the log to that moment."""
    pressfeed, _ = caught_up(settings)
    pressfeed.start_background()
    stop = threading.Event()

    def keep_writing() -> None:
        app = PressOffice(env=settings.eventsourcing_env())
        while not stop.is_set():
            write_statements(app, 1)
        app.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        found = []
        for _ in range(3):
            check_views(
                settings, pressfeed.press_office, pressfeed.views, found.append, 3
            )
        assert found == []
    finally:
        stop.set()
        writer.join()
        pressfeed.close()
