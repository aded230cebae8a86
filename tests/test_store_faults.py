"""A real `pressfeed serve` when its store fails under it: PostgreSQL connections
terminated by the server."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests

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
