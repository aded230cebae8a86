"""A real `pressfeed serve` when its store fails under it: PostgreSQL connections
terminated by the server, a SQLite file it may not write; and the modes the
store's files are created with."""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from pressfeed.assembly import Pressfeed
from pressfeed.config import sqlite_path
from pressfeed.web import create_app
from tests.conftest import POSTGRES_URL, make_settings
from tests.helpers import Server, create_token

PROBLEM = "application/problem+json"


def terminate_backends(application_name: str) -> int:
    """pg_terminate_backend on every connection of one application_name (this
    test's server, never another test's); how many there were."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchall()
    return len(rows)


def test_requests_after_the_servers_connections_are_terminated_all_succeed(
    postgres_url, tmp_path
):
    settings = make_settings(tmp_path, postgres_url)
    headers = {"Authorization": f"Bearer {create_token(settings)}"}
    application_name = f"pf-test-{uuid.uuid4().hex[:10]}"
    server = Server(settings, PGAPPNAME=application_name)

    def create(n: int) -> int:
        return requests.post(
            f"{server.url}/api/statements",
            json={"title": f"Notice {n}", "body": "Text.", "kind": "news"},
            headers=headers,
            timeout=30,
        ).status_code

    def read(path: str) -> int:
        return requests.get(
            f"{server.url}{path}", headers=headers, timeout=30
        ).status_code

    paths = ["/api/statements", "/feeds/all.atom", "/messages", "/healthz", "/"]
    try:
        with ThreadPoolExecutor(8) as pool:  # fills the pools with connections
            assert set(pool.map(create, range(8))) == {201}
            assert set(pool.map(read, paths * 4)) == {200}
            assert terminate_backends(application_name) >= 3
            created = list(pool.map(create, range(8, 24)))
            read_after = list(pool.map(read, paths * 8))
    finally:
        server.stop()
    assert set(created) == {201}, created
    assert set(read_after) == {200}, read_after


# Root without the capabilities that let it write whatever the modes say.
ROOT_OBEYS_FILE_MODES = (
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)


def test_a_store_that_refuses_writes_answers_503_to_commands_and_readiness(
    tmp_path,
):
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("root writes a read-only file, and setpriv is not installed")
    settings = make_settings(tmp_path)
    headers = {"Authorization": f"Bearer {create_token(settings)}"}
    pressfeed = Pressfeed(settings)
    assert pressfeed.views and pressfeed.people  # every table exists
    create_app(services=pressfeed)  # and the secret key
    pressfeed.close()
    sqlite_path(settings.database_url).chmod(0o400)  # read-only, as by mistake
    server = Server(settings, prefix=ROOT_OBEYS_FILE_MODES if os.geteuid() == 0 else ())
    try:
        created = requests.post(
            f"{server.url}/api/statements",
            json={"title": "Closed on Monday", "body": "Text.", "kind": "news"},
            headers=headers,
            timeout=30,
        )
        ready = requests.get(f"{server.url}/healthz?ready", timeout=30)
        live = requests.get(f"{server.url}/healthz", timeout=30)
        listed = requests.get(
            f"{server.url}/api/statements", headers=headers, timeout=30
        )
    finally:
        server.stop()
    assert created.status_code == 503, created.text
    assert created.headers["Content-Type"] == PROBLEM
    assert created.json()["type"] == f"{server.url}/problems/store-unavailable"
    assert int(created.headers["Retry-After"]) > 0
    assert ready.status_code == 503, ready.text
    assert ready.headers["Content-Type"] == PROBLEM
    assert ready.json()["type"] == f"{server.url}/problems/store-unavailable"
    assert int(ready.headers["Retry-After"]) > 0
    assert live.status_code == 200  # alive: restarting it would not help
    assert listed.status_code == 200  # and it still reads


def test_readiness_answers_200_when_the_store_takes_writes(sqlite_settings):
    server = Server(sqlite_settings)
    try:
        ready = requests.get(f"{server.url}/healthz?ready", timeout=30)
    finally:
        server.stop()
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "store": "sqlite",
        "projection_lag": 0,
        "writable": True,
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_and_its_folder_are_created_owner_only(tmp_path):
    previous = os.umask(0o022)  # the usual default, which gives 0644 files
    try:
        settings = make_settings(tmp_path)
        pressfeed = Pressfeed(settings)
        try:
            pressfeed.tokens.create("press-office", "publisher")
            database = sqlite_path(settings.database_url)
            files = [database, *(Path(f"{database}-{end}") for end in ("wal", "shm"))]
            modes = {path.name: mode(path) for path in files}
        finally:
            pressfeed.close()
    finally:
        os.umask(previous)
    assert mode(settings.instance_dir) == 0o700
    assert modes == {
        "pressfeed.db": 0o600,
        "pressfeed.db-wal": 0o600,
        "pressfeed.db-shm": 0o600,
    }
