"""Tamper evidence: rows edited, deleted or swapped in the store itself are caught
by `pressfeed verify` (exit 1, the first bad position); an untouched log verifies."""

from __future__ import annotations

import json
import sqlite3
import threading
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from pressfeed.aggregates import SlugIndex
from pressfeed.application import NewStatement, PressOffice
from pressfeed.ledger import Ledger
from pressfeed.storage import Dialect
from pressfeed.transparency import append_leaves
from tests.conftest import POSTGRES_URL, make_settings
from tests.helpers import run_cli


def fill(settings, count: int = 6) -> PressOffice:
    app = PressOffice(env=settings.eventsourcing_env())
    for i in range(count):
        result = app.create_statement(
            NewStatement(title=f"Statement {i}", body=f"Body {i}", kind="news"),
            actor="po",
        )
        app.amend(
            result.statement.id,
            expected_version=2,
            changes={"body": f"Amended {i}"},
            change_note="More",
            minor=False,
            actor="editor",
        )
    return app


def verify(settings) -> tuple[int, dict]:
    result = run_cli(settings, "verify", check=False)
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


class SQLiteRows:
    def __init__(self, settings) -> None:
        self.db = sqlite3.connect(settings.instance_dir / "pressfeed.db")

    def flip_byte(self, position: int) -> None:
        (state,) = self.db.execute(
            "SELECT state FROM stored_events WHERE rowid = ?", (position,)
        ).fetchone()
        state = bytearray(state)
        state[len(state) // 2] ^= 0x01
        self.db.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (bytes(state), position),
        )
        self.db.commit()

    def delete(self, position: int) -> None:
        self.db.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
        self.db.commit()

    def swap(self, first: int, second: int) -> None:
        rows = {
            rowid: row
            for rowid, *row in self.db.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                "FROM stored_events WHERE rowid IN (?, ?)",
                (first, second),
            )
        }
        self.db.execute(
            "DELETE FROM stored_events WHERE rowid IN (?, ?)", (first, second)
        )
        for rowid, other in ((first, second), (second, first)):
            self.db.execute(
                "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?, ?)",
                (rowid, *rows[other]),
            )
        self.db.commit()


class PostgresRows:
    def __init__(self, settings) -> None:
        self.schema = settings.database_url.split("schema=")[1]
        self.table = f'"{self.schema}".pressoffice_events'

    def run(self, sql: str, params=()) -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql, params)

    def flip_byte(self, position: int) -> None:
        self.run(
            f"UPDATE {self.table} SET state = set_byte(state, length(state) / 2, "
            f"get_byte(state, length(state) / 2) # 1) WHERE notification_id = %s",
            (position,),
        )

    def delete(self, position: int) -> None:
        self.run(f"DELETE FROM {self.table} WHERE notification_id = %s", (position,))

    def swap(self, first: int, second: int) -> None:
        self.run(
            f"UPDATE {self.table} SET notification_id = -notification_id "
            f"WHERE notification_id IN (%s, %s)",
            (first, second),
        )
        self.run(
            f"UPDATE {self.table} SET notification_id = CASE notification_id "
            f"WHEN %s THEN %s ELSE %s END WHERE notification_id < 0",
            (-first, second, first),
        )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "postgres":
        settings = make_settings(tmp_path, request.getfixturevalue("postgres_url"))
        return settings, PostgresRows
    settings = make_settings(tmp_path)
    return settings, SQLiteRows


def test_an_untouched_log_verifies(store):
    settings, _ = store
    app = fill(settings)
    code, report = verify(settings)
    assert code == 0
    assert report == {
        "ok": True,
        "events_checked": app.recorder.max_notification_id(),
        "first_bad": None,
        "tree_ok": True,
        "first_bad_node": None,
    }


def test_one_changed_byte_is_caught(store):
    settings, rows = store
    fill(settings)
    rows(settings).flip_byte(7)
    code, report = verify(settings)
    assert code == 1
    assert report == {
        "ok": False,
        "events_checked": 6,
        "first_bad": 7,
        "tree_ok": None,  # not checked: the chain does not hold
        "first_bad_node": None,
    }


def test_a_deleted_event_is_caught(store):
    settings, rows = store
    fill(settings)
    rows(settings).delete(5)
    code, report = verify(settings)
    assert (code, report["ok"], report["first_bad"]) == (1, False, 5)


def test_two_swapped_events_are_caught(store):
    settings, rows = store
    fill(settings)
    rows(settings).swap(9, 13)
    code, report = verify(settings)
    assert (code, report["ok"], report["first_bad"]) == (1, False, 9)


def test_the_newest_event_deleted_is_caught(store):
    settings, rows = store
    app = fill(settings)
    newest = app.recorder.max_notification_id()
    rows(settings).delete(newest)
    code, report = verify(settings)
    assert code == 1 and report["first_bad"] == newest


def test_a_witnessed_head_proves_a_rewrite_of_the_whole_chain(sqlite_settings):
    app = fill(sqlite_settings, count=2)
    from pressfeed.ledger import Ledger

    head = Ledger(app.recorder).head()
    ok = run_cli(sqlite_settings, "verify", "--head", str(head.position), head.hash)
    assert json.loads(ok.stdout.splitlines()[-1])["head_matches"] is True
    rows = SQLiteRows(sqlite_settings)
    rows.flip_byte(3)
    rows.db.execute("DELETE FROM pf_chain")  # a forger rebuilds the chain from scratch
    rows.db.commit()
    forged = PressOffice(env=sqlite_settings.eventsourcing_env())
    links = []
    from pressfeed.ledger import GENESIS, chain_hash

    prev = GENESIS
    for event in Ledger(forged.recorder).events():
        link = chain_hash(
            prev,
            event.id,
            event.originator_id,
            event.originator_version,
            event.topic,
            event.state,
        )
        links.append(
            (event.id, str(event.originator_id), event.originator_version, link, prev)
        )
        prev = link
    rows.db.executemany("INSERT INTO pf_chain VALUES (?, ?, ?, ?, ?)", links)
    rows.db.commit()
    assert run_cli(sqlite_settings, "verify", check=False).returncode == 1  # the tree
    rows.db.execute("DELETE FROM pf_tree")  # so the forger rebuilds the tree too
    append_leaves(
        rows.db.cursor(),
        Dialect(postgres=False),
        0,
        [(position, bytes.fromhex(link)) for position, _, _, link, _ in links],
    )
    rows.db.commit()
    assert (
        run_cli(sqlite_settings, "verify").returncode == 0
    )  # consistent, but rewritten
    caught = run_cli(
        sqlite_settings, "verify", "--head", str(head.position), head.hash, check=False
    )
    assert caught.returncode == 1
    assert json.loads(caught.stdout.splitlines()[-1])["head_matches"] is False


def test_a_failure_while_writing_the_chain_records_nothing(store, monkeypatch):
    """Events and their links commit together or not at all: an error in the
    chain write must not leave events without links (nor tell the caller that a
    command failed which was in fact recorded)."""
    import pressfeed.ledger

    settings, _ = store
    app = fill(settings, count=1)
    head = app.recorder.max_notification_id()

    def broken_links(*args, **kwargs):
        raise RuntimeError("the chain could not be written")

    monkeypatch.setattr(pressfeed.ledger, "append_links", broken_links)
    with pytest.raises(RuntimeError):
        app.create_statement(
            NewStatement(title="Lost?", body="Body", kind="news"), actor="po"
        )
    monkeypatch.undo()
    assert app.recorder.max_notification_id() == head
    assert verify(settings) == (
        0,
        {
            "ok": True,
            "events_checked": head,
            "first_bad": None,
            "tree_ok": True,
            "first_bad_node": None,
        },
    )
    app.close()


def test_a_chain_links_own_columns_rewritten_are_caught(store):
    """The audit history attaches positions and hashes by a link's originator_id
    and version: they must be its event's."""
    settings, _ = store
    app = fill(settings)
    other = str(app.recorder.select_notifications(start=1, limit=1)[0].originator_id)
    chain = Ledger(app.recorder).tables
    chain.execute("UPDATE {c} SET version = 9 WHERE position = 7", c="pf_chain")
    code, report = verify(settings)
    assert (code, report["first_bad"]) == (1, 7)
    link = Ledger(app.recorder).link_at(8)
    chain.execute(
        "UPDATE {c} SET version = ? WHERE position = 7",
        [app.recorder.select_notifications(start=7, limit=1)[0].originator_version],
        c="pf_chain",
    )
    assert verify(settings)[0] == 0
    chain.execute(
        "UPDATE {c} SET originator_id = ? WHERE position = ?",
        [other, link.position],
        c="pf_chain",
    )
    code, report = verify(settings)
    assert (code, report["first_bad"]) == (1, 8)


def test_an_id_spelled_in_capitals_hides_an_event_and_is_caught(sqlite_settings):
    """eventsourcing finds events by the stored text: a capitalised id hides the
    statement's newest event (a retraction vanishes), and an amendment is then
    stored at the hidden version. verify names the hidden event."""
    app = fill(sqlite_settings, count=2)
    statement = app.recorder.select_notifications(start=1, limit=1)[0].originator_id
    db = sqlite3.connect(sqlite_settings.instance_dir / "pressfeed.db")
    db.execute(
        "UPDATE stored_events SET originator_id = upper(originator_id) "
        "WHERE originator_id = ? AND originator_version = 3",
        (statement.hex,),
    )
    db.commit()
    (hidden,) = db.execute(
        "SELECT rowid FROM stored_events WHERE originator_id = ?",
        (statement.hex.upper(),),
    ).fetchone()
    code, report = verify(sqlite_settings)
    assert (code, report["first_bad"]) == (1, hidden)
    app = PressOffice(env=sqlite_settings.eventsourcing_env())
    assert app.get_statement(statement).version == 2  # the amendment is hidden
    app.amend(
        statement,
        expected_version=2,
        changes={"body": "Second at version 3"},
        change_note="Again",
        minor=False,
        actor="forger",
    )  # a second event at version 3
    code, report = verify(sqlite_settings)
    assert (code, report["first_bad"]) == (1, hidden)


def test_versions_out_of_order_are_caught(store):
    settings, _ = store
    app = fill(settings, count=1)
    assert app.recorder.max_notification_id() == 4  # drafted, published, slug, amended
    rows = Ledger(app.recorder).tables
    table = "stored_events" if not settings.uses_postgres else "pressoffice_events"
    rows.execute(
        "DELETE FROM {e} WHERE originator_version = 2 AND originator_id = ?",
        [
            app.recorder.select_notifications(start=1, limit=1)[0].originator_id
            if settings.uses_postgres
            else app.recorder.select_notifications(start=1, limit=1)[
                0
            ].originator_id.hex
        ],
        e=table,
    )
    code, report = verify(settings)
    assert (code, report["first_bad"]) == (1, 2)


def test_an_id_spelled_in_capitals_is_impossible_on_postgresql(postgres_url, tmp_path):
    """PostgreSQL stores ids as uuid, not text: a capitalised spelling is the same
    value, so nothing is hidden, and a second event at a version already
    stored is refused by the primary key (originator_id, originator_version)."""
    settings = make_settings(tmp_path, postgres_url)
    app = fill(settings, count=2)
    statement = app.recorder.select_notifications(start=1, limit=1)[0].originator_id
    rows = PostgresRows(settings)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        (column_type,) = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'pressoffice_events' AND column_name = 'originator_id'",
            (rows.schema,),
        ).fetchone()
        assert column_type == "uuid"
        conn.execute(
            f"UPDATE {rows.table} SET originator_id = upper(originator_id::text)::uuid "
            "WHERE originator_id = %s AND originator_version = 3",
            (statement,),
        )
        (stored,) = conn.execute(
            f"SELECT originator_id::text FROM {rows.table} "
            "WHERE originator_id = %s AND originator_version = 3",
            (statement,),
        ).fetchone()
        assert stored == str(statement)  # one spelling, whatever was written
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                f"INSERT INTO {rows.table} (originator_id, originator_version, topic, "
                "state) SELECT upper(originator_id::text)::uuid, originator_version, "
                f"topic, state FROM {rows.table} "
                "WHERE originator_id = %s AND originator_version = 3",
                (statement,),
            )
    assert (
        PressOffice(env=settings.eventsourcing_env()).get_statement(statement).version
        == 3
    )  # nothing hidden
    assert verify(settings)[0] == 0
    app.close()


def test_writers_taking_turns_keep_one_chain_and_one_tree(store):
    """Each writer keeps the tip of its last write to skip reading the tree
    back: a tip another writer made stale must be seen as stale, or the chain
    and the tree would fork."""
    settings, _ = store
    first = PressOffice(env=settings.eventsourcing_env())
    second = PressOffice(env=settings.eventsourcing_env())
    for i in range(7):
        for app in (first, second, first):
            app.create_statement(
                NewStatement(title=f"Turn {i}", body="Body", kind="news"), actor="po"
            )
    with pytest.raises(IntegrityError):  # a refused write between two others
        first.save(SlugIndex("turn-0", uuid4()))
    second.create_statement(
        NewStatement(title="After the rollback", body="Body", kind="news"), actor="po"
    )
    first.create_statement(
        NewStatement(title="And again", body="Body", kind="news"), actor="po"
    )
    ledger = Ledger(first.recorder)
    size = ledger.size()
    assert ledger.tree.size() == size
    assert ledger.verify(root_at=size).root_at == ledger.tree.root(size)
    assert verify(settings)[1]["ok"] is True  # and every node of the tree
    first.close()
    second.close()


def test_a_commands_leaf_is_answered_from_memory_as_stored(store):
    settings, _ = store
    app = PressOffice(env=settings.eventsourcing_env())
    statement = app.create_statement(
        NewStatement(title="Remembered", body="Body", kind="news"), actor="po"
    ).statement
    remembered = Ledger(app.recorder).leaf(statement.id, statement.version)
    fresh = PressOffice(env=settings.eventsourcing_env())  # remembers nothing
    assert remembered is not None
    assert Ledger(fresh.recorder).leaf(statement.id, statement.version) == remembered
    app.close()
    fresh.close()


def tamper_tree(settings, sql: str) -> None:
    app = PressOffice(env=settings.eventsourcing_env())
    Ledger(app.recorder).tables.execute(sql, t="pf_tree")
    app.close()


@pytest.mark.parametrize(
    ("change", "bad_node"),
    [
        ("UPDATE {t} SET hash = ? WHERE level = 2 AND idx = 1", [2, 1]),
        ("UPDATE {t} SET hash = ? WHERE level = 0 AND idx = 5", [0, 5]),
        (
            "UPDATE {t} SET position = position + 100 WHERE level = 0 AND idx = 3",
            [0, 3],
        ),
        ("DELETE FROM {t} WHERE level = 1 AND idx = 4", [1, 4]),
    ],
)
def test_a_tree_node_that_the_chain_does_not_make_is_caught(store, change, bad_node):
    """Checkpoints, proofs and receipts are read from the stored tree: every
    node of it must be the one the chain makes, even one no root reads."""
    settings, _ = store
    fill(settings, count=3).close()  # 12 events: nodes up to level 3
    sql = change.replace("?", "'" + "00" * 32 + "'")
    if settings.uses_postgres:
        sql = sql.replace("'" + "00" * 32 + "'", "'\\x" + "00" * 32 + "'::bytea")
    else:
        sql = sql.replace("'" + "00" * 32 + "'", "zeroblob(32)")
    tamper_tree(settings, sql)
    code, report = verify(settings)
    assert code == 1
    assert report["ok"] is False and report["first_bad"] is None
    assert (report["tree_ok"], report["first_bad_node"]) == (False, bad_node)


def test_a_log_written_to_while_it_is_checked_checks_out(store):
    """verify checks the log up to the head it read first: events committed
    meanwhile are no false alarm."""
    settings, _ = store
    app = fill(settings, count=1)
    auditor = PressOffice(env=settings.eventsourcing_env())
    ledger = Ledger(auditor.recorder)
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            app.create_statement(
                NewStatement(title=f"Meanwhile {i}", body="Body", kind="news"),
                actor="po",
            )
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        results = [ledger.verify() for _ in range(40)]
    finally:
        stop.set()
        writer.join()
    assert all(result.ok for result in results), [r for r in results if not r.ok][:1]
    assert results[-1].events_checked > results[0].events_checked  # it did write
    auditor.close()
    app.close()


def test_a_saved_head_is_compared_as_the_events_make_it(sqlite_settings):
    """--head takes the hash in either case; a position or hash no head can
    have is a usage error; a head past the log's end, or under a changed
    event, does not match."""
    app = fill(sqlite_settings, count=2)
    head = Ledger(app.recorder).head()
    app.close()

    def run(position, digest):
        result = run_cli(
            sqlite_settings, "verify", "--head", str(position), digest, check=False
        )
        return result.returncode, result.stdout, result.stderr

    code, out, _ = run(head.position, head.hash.upper())
    assert code == 0 and json.loads(out)["head_matches"] is True
    for position, digest in ((0, head.hash), (-5, head.hash), (1, "x"), (1, "ab")):
        code, out, err = run(position, digest)
        assert code == 2 and out == "" and "--head" in err, (position, digest)
    code, out, err = run(99999999999999999999, head.hash)
    assert code == 1 and json.loads(out)["head_matches"] is False
    assert "no longer reaches position 99999999999999999999" in err
    SQLiteRows(sqlite_settings).flip_byte(3)
    code, out, err = run(head.position, head.hash)
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["head_matches"] is False


@pytest.mark.parametrize("deleted", ["the newest link", "every link"])
def test_events_whose_links_are_gone_are_caught(store, deleted):
    settings, _ = store
    app = fill(settings, count=2)
    newest = app.recorder.max_notification_id()
    where = "WHERE position = ?" if deleted == "the newest link" else ""
    params = [newest] if where else []
    Ledger(app.recorder).tables.execute(
        f"DELETE FROM {{c}} {where}", params, c="pf_chain"
    )
    code, report = verify(settings)
    assert code == 1 and report["ok"] is False
    assert report["first_bad"] == (newest if where else 1)
    app.close()
