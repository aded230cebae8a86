"""A real `pressfeed serve` process, over HTTP."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.helpers import Server, create_token


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


def _slow_clients(server, count: int) -> list:
    """Sockets that send half a request head and wait (issue 15, point 3)."""
    import socket

    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        clients.append(client)
    return clients


@pytest.mark.slow
def test_healthz_answers_within_a_second_while_100_slow_clients_hold_connections(
    server,
):
    """Before: eight such sockets (the thread count) made /healthz time out."""
    clients = _slow_clients(server, 100)
    try:
        time.sleep(0.5)  # let the server take them all
        for _ in range(5):
            started = time.monotonic()
            answer = requests.get(f"{server.url}/healthz", timeout=1)
            assert answer.status_code == 200
            assert time.monotonic() - started < 1.0
            time.sleep(0.3)
        # a keep-alive client is served too, its second head read the same way
        with requests.Session() as session:
            for _ in range(3):
                assert session.get(f"{server.url}/healthz", timeout=1).ok
    finally:
        for client in clients:
            client.close()


@pytest.mark.slow
def test_a_slow_client_that_finishes_its_head_is_answered(server):
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.3)
        client.sendall(b"Host: x\r\n")
        time.sleep(0.3)
        client.sendall(b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"status":"ok"' in answer.replace(b" ", b"")
