"""A real `pressfeed serve` when its store fails under it: PostgreSQL connections
terminated by the server; and the modes the store's files are created with."""

from __future__ import annotations

import os
import stat
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from pressfeed.assembly import Pressfeed
from pressfeed.config import sqlite_path
from tests.conftest import POSTGRES_URL, make_settings
from tests.helpers import Server, create_token


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
