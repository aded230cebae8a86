"""The scale-out deployment, for real: PostgreSQL, `gunicorn -w 4` on
create_app(), and `pressfeed worker` processes."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from pressfeed.projections import open_views
from tests.conftest import make_settings
from tests.helpers import (
    Gunicorn,
    Worker,
    all_statement_ids,
    create_token,
    run_cli,
    wait_for_views,
)

VIEW_TABLES = {
    "pf_catalogue": "id",
    "pf_catalogue_tags": "statement_id, tag",
    "pf_public_changes": "position",
    "pf_archive": "seq",
    "pf_schedule": "statement_id",
}


@pytest.fixture
def settings(tmp_path, postgres_url):
    return make_settings(tmp_path, postgres_url)


@pytest.fixture
def tokens(settings) -> dict[str, dict[str, str]]:
    return {
        role: {"Authorization": f"Bearer {create_token(settings, role, role)}"}
        for role in ("publisher", "auditor")
    }


@pytest.fixture
def deployment(settings):
    web = Gunicorn(settings)
    worker = Worker(settings)
    yield web, worker
    worker.stop()
    web.stop()


def create(url: str, headers: dict, n: int, **fields) -> requests.Response:
    return requests.post(
        f"{url}/api/statements",
        json={"title": f"Statement {n}", "body": f"Body {n}", "kind": "news", **fields},
        headers=headers,
        timeout=30,
    )


def view_contents(settings) -> dict[str, list[tuple]]:
    views = open_views(settings)
    try:
        return {
            table: [
                tuple(r.values())
                for r in views.query(f"SELECT * FROM {{t}} ORDER BY {o}", t=table)
            ]
            for table, o in VIEW_TABLES.items()
        }
    finally:
        views.datastore.close()


def test_400_creates_from_16_clients_all_land_in_views_and_audit(deployment, tokens):
    web, _ = deployment
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(lambda n: create(web.url, tokens["publisher"], n), range(400))
        )
    assert [a.status_code for a in answers] == [201] * 400
    created = {a.json()["id"] for a in answers}
    wait_for_views(web.url)
    assert all_statement_ids(web.url, tokens["publisher"]) == created
    log = requests.get(f"{web.url}/audit/log", headers=tokens["auditor"], timeout=60)
    drafted = {
        record["statement_id"]
        for record in map(json.loads, log.text.splitlines())
        if record["type"] == "Drafted"
    }
    assert drafted == created
    assert requests.get(
        f"{web.url}/audit/verify", headers=tokens["auditor"], timeout=60
    ).json()["ok"]


def test_8_editors_with_if_match_loops_lose_nothing(deployment, tokens):
    web, _ = deployment
    statement = create(web.url, tokens["publisher"], 0, draft=True).json()
    assert statement["version"] == 1
    url = f"{web.url}/api/statements/{statement['id']}"
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def editor(name: str) -> None:
        session = requests.Session()
        session.headers.update(tokens["publisher"])
        for attempt in range(6):
            etag = session.get(url, timeout=30).headers["ETag"]
            note = f"{name} attempt {attempt}"
            response = session.post(
                f"{url}/amendments",
                json={"body": note, "change_note": note},
                headers={"If-Match": etag},
                timeout=30,
            )
            with lock:
                answers.append((response.status_code, note))

    editors = [threading.Thread(target=editor, args=(f"editor-{i}",)) for i in range(8)]
    for thread in editors:
        thread.start()
    for thread in editors:
        thread.join()
    assert {status for status, _ in answers} <= {200, 412}
    accepted = [note for status, note in answers if status == 200]
    final = requests.get(url, headers=tokens["publisher"], timeout=30).json()
    assert final["version"] == 1 + len(accepted)
    history = requests.get(
        f"{web.url}/audit/statements/{statement['id']}",
        headers={**tokens["auditor"], "Accept": "application/json"},
        timeout=30,
    ).json()["events"]
    assert sorted(
        e["change_note"] for e in history if e["type"] == "Amended"
    ) == sorted(accepted)


def test_kill_9_of_the_worker_while_creates_stream_in(settings, deployment, tokens):
    web, worker = deployment
    accepted: list[str] = []
    stop = threading.Event()

    def stream(offset: int) -> None:
        n = offset
        while not stop.is_set():
            response = create(web.url, tokens["publisher"], n, tags=[f"t{n % 5}"])
            assert response.status_code == 201
            accepted.append(response.json()["id"])
            n += 4

    writers = [threading.Thread(target=stream, args=(i,)) for i in range(4)]
    for thread in writers:
        thread.start()
    threading.Event().wait(1.5)
    worker.kill()
    threading.Event().wait(1.0)
    stop.set()
    for thread in writers:
        thread.join()
    restarted = Worker(settings)
    try:
        wait_for_views(web.url)
        assert set(accepted) <= all_statement_ids(web.url, tokens["publisher"])
    finally:
        restarted.stop()
    live = view_contents(settings)
    run_cli(settings, "rebuild")
    assert view_contents(settings) == live
    assert len(live["pf_catalogue"]) == len(accepted)


def test_every_web_process_serves_the_new_feed(deployment, tokens):
    web, _ = deployment
    create(web.url, tokens["publisher"], 1)
    wait_for_views(web.url)
    for _ in range(12):  # reach each of the four processes several times
        requests.get(f"{web.url}/feeds/all.atom", timeout=10)
    create(web.url, tokens["publisher"], 2, title="The newest statement")
    wait_for_views(web.url)
    feeds = [
        requests.get(f"{web.url}/feeds/all.atom", timeout=10).text for _ in range(12)
    ]
    assert all("The newest statement" in feed for feed in feeds)
