"""A real `pressfeed serve` process, over HTTP."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest
import requests

from tests.helpers import PRESSFEED, Server, create_token, env_for


@pytest.fixture
def server(sqlite_settings):
    server = Server(sqlite_settings)
    yield server
    server.stop()


@pytest.fixture
def headers(sqlite_settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(sqlite_settings)}"}


def test_serve_takes_commands_and_lists_them(server, headers):
    created = requests.post(
        f"{server.url}/api/statements",
        json={
            "title": "Reply on visa times",
            "body": "Ten days.",
            "kind": "media-reply",
        },
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201
    listed = requests.get(
        f"{server.url}/api/statements", headers=headers, timeout=10
    ).json()
    assert [s["title"] for s in listed["items"]] == ["Reply on visa times"]
    assert listed["items"][0]["url"] == f"{server.url}/statements/reply-on-visa-times"
    health = requests.get(f"{server.url}/healthz", timeout=10).json()
    assert health == {"status": "ok", "store": "sqlite", "projection_lag": 0}


def test_two_editors_from_the_same_version_one_wins_one_gets_412(server, headers):
    statement = requests.post(
        f"{server.url}/api/statements",
        json={"title": "Exhibition opens", "body": "On Monday.", "kind": "news"},
        headers=headers,
        timeout=10,
    ).json()
    url = f"{server.url}/api/statements/{statement['id']}/amendments"
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}

    def edit(name: str) -> None:
        barrier.wait()
        answers[name] = requests.post(
            url,
            json={"body": f"On Tuesday ({name}).", "change_note": f"Day by {name}"},
            headers={**headers, "If-Match": '"2"'},
            timeout=10,
        ).status_code

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("anna", "boris")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers.values()) == [200, 412]
    winner = next(name for name, status in answers.items() if status == 200)
    final = requests.get(
        f"{server.url}/api/statements/{statement['id']}", headers=headers, timeout=10
    ).json()
    assert final["version"] == 3
    assert final["body"] == f"On Tuesday ({winner})."
    assert [n["note"] for n in final["change_notes"]] == [f"Day by {winner}"]


def test_an_amendment_reaches_the_list_view_quickly(server, headers):
    statement = requests.post(
        f"{server.url}/api/statements",
        json={"title": "Speech", "body": "Text", "kind": "speech"},
        headers=headers,
        timeout=10,
    ).json()
    requests.post(
        f"{server.url}/api/statements/{statement['id']}/amendments",
        json={"title": "Speech at the reception", "change_note": "Title"},
        headers={**headers, "If-Match": '"2"'},
        timeout=10,
    )
    started = time.monotonic()
    listed = requests.get(
        f"{server.url}/api/statements", headers=headers, timeout=10
    ).json()
    assert listed["items"][0]["title"] == "Speech at the reception"
    assert time.monotonic() - started < 1.0


def test_without_a_base_url_every_absolute_url_names_the_port_served(
    sqlite_settings, headers, tmp_path
):
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        server = Server(sqlite_settings, log_file=log_file, base_url=False)
        try:
            created = requests.post(
                f"{server.url}/api/statements",
                json={"title": "Port check", "body": "Text.", "kind": "news"},
                headers=headers,
                timeout=10,
            ).json()
            feed = requests.get(f"{server.url}/feeds/all.atom", timeout=10).text
            page = requests.get(f"{server.url}/", timeout=10).text
            problem = requests.get(f"{server.url}/api/statements", timeout=10).json()
        finally:
            server.stop()
    assert server.port != 5000
    assert created["url"] == f"{server.url}/statements/port-check"
    assert f'href="{server.url}/feeds/all.atom"' in feed
    assert f'href="{server.url}/feeds/all.atom"' in page  # autodiscovery
    assert ":5000" not in feed + page
    assert problem["type"] == f"{server.url}/problems/unauthorized"
    assert f"pressfeed serving on {server.url}" in log.read_text()


def test_a_port_in_use_is_said_so_with_how_to_pick_another(sqlite_settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [PRESSFEED, "serve", "--port", str(port)],
            env=env_for(sqlite_settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert time.monotonic() - started < 10
    message = result.stderr
    assert f"127.0.0.1:{port} is already in use" in message
    assert "--port" in message and "PORT=" in message
