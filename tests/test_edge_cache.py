"""The deployment guide's nginx cache in front of pressfeed (docs/nginx/): a
correction shows through it within a second of pressfeed showing it, whether the
cache is busy or has been quiet; the desk, the API and the audit are never
cached; conditional GETs get their 304 through it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import require_program
from tests.helpers import (
    BusyReaders,
    Nginx,
    Server,
    create_token,
    shown,
    staleness,
)

BOUND = 1.0  # seconds after pressfeed itself shows a change (docs/deployment.md)
SLACK = 0.25  # the polling loop's own steps on a shared two-core machine
FEED = "/feeds/all.atom"


@dataclass
class Edge:
    pressfeed: Server
    nginx: Nginx
    headers: dict[str, str]
    auditor: dict[str, str]

    def staleness(self, text: str) -> float:
        return staleness(self.pressfeed.url + FEED, self.nginx.url + FEED, text)

    def amend(self, statement: dict, title: str) -> dict:
        response = requests.post(
            f"{self.pressfeed.url}/api/statements/{statement['id']}/amendments",
            json={"title": title, "change_note": f"Corrected: {title}"},
            headers={**self.headers, "If-Match": f'"{statement["version"]}"'},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def edge(sqlite_settings, tmp_path) -> Iterator[Edge]:
    require_program("nginx", "nginx-light")
    headers = {"Authorization": f"Bearer {create_token(sqlite_settings)}"}
    auditor = create_token(sqlite_settings, role="auditor", name="auditor")
    pressfeed = Server(sqlite_settings)
    nginx = Nginx(tmp_path / "nginx", f"127.0.0.1:{pressfeed.port}")
    try:
        yield Edge(pressfeed, nginx, headers, {"Authorization": f"Bearer {auditor}"})
    finally:
        nginx.stop()
        pressfeed.stop()


def create_statement(edge: Edge) -> dict:
    response = requests.post(
        f"{edge.pressfeed.url}/api/statements",
        json={"title": "Correction 0", "body": "The text.", "kind": "news"},
        headers=edge.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    shown(edge.pressfeed.url + FEED, "Correction 0<")  # the views applied it
    return response.json()


@pytest.mark.parametrize("quiet", [0, 2, 10])
def test_after_quiet_the_first_reader_through_the_cache_gets_the_correction(
    edge, quiet
):
    """The cache holds the feed as it was when the quiet began; after the quiet a
    correction is made, and the first reader through the cache once pressfeed
    shows it gets it (a copy read less than BOUND ago may still be served)."""
    statement = create_statement(edge)
    for _ in range(2):
        requests.get(edge.nginx.url + FEED, timeout=5)
    time.sleep(quiet)
    statement = edge.amend(statement, "Correction 1")
    if quiet < BOUND:
        assert edge.staleness("Correction 1<") <= BOUND + SLACK
        return
    shown(edge.pressfeed.url + FEED, "Correction 1<")
    first = requests.get(edge.nginx.url + FEED, timeout=5)
    assert "Correction 1<" in first.text
    assert first.headers["X-Cache-Status"] in {"EXPIRED", "REVALIDATED"}


def test_a_correction_shows_through_a_busy_cache_within_the_bound(edge):
    statement = create_statement(edge)
    delays = []
    with BusyReaders(edge.nginx.url + FEED) as readers:
        time.sleep(1.5)
        for n in range(1, 6):
            statement = edge.amend(statement, f"Correction {n}")
            delays.append(edge.staleness(f"Correction {n}<"))
    hits = readers.statuses.count("HIT")
    print(
        f"busy: median {statistics.median(delays) * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms; {hits} hits of {len(readers.statuses)}"
    )
    assert hits > len(readers.statuses) / 2, "the cache is not caching the feed"
    assert max(delays) <= BOUND + SLACK


def test_the_desk_the_api_and_the_audit_are_never_cached(edge):
    create_statement(edge)
    for path, headers in (
        ("/desk/login", {}),
        ("/api/statements", edge.headers),
        ("/audit/log", edge.auditor),
        ("/healthz", {}),
    ):
        answers = [
            requests.get(edge.nginx.url + path, headers=headers, timeout=5)
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200] * 3, path
        assert {a.headers.get("X-Cache-Status", "") for a in answers} == {""}, path


def test_conditional_gets_get_their_304_through_the_cache(edge):
    statement = create_statement(edge)
    first = requests.get(edge.nginx.url + FEED, timeout=5)
    etag = first.headers["ETag"]
    fresh = requests.get(edge.nginx.url + FEED, headers={"If-None-Match": etag})
    assert (fresh.status_code, fresh.headers["X-Cache-Status"]) == (304, "HIT")
    time.sleep(BOUND + 1)
    revalidated = requests.get(edge.nginx.url + FEED, headers={"If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.headers["X-Cache-Status"] in {"REVALIDATED", "EXPIRED"}
    edge.amend(statement, "Correction 1")
    edge.staleness("Correction 1<")
    changed = requests.get(edge.nginx.url + FEED, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "Correction 1<" in changed.text
