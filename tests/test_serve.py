"""A real `pressfeed serve` process, over HTTP."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import subprocess
import threading
import time

import pytest
import requests

from pressfeed.application import PressOffice
from tests.helpers import PRESSFEED, Server, create_token, env_for, wait_for_views


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


def chunked_post(server, path: str, headers: dict[str, str], chunks) -> tuple:
    """POST with Transfer-Encoding: chunked (no Content-Length) from a raw socket,
    reading the answer while still sending, as a server may answer (and close)
    before the body ends: status, content type and body of the answer."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    head = "".join(
        f"{name}: {value}\r\n"
        for name, value in {
            "Host": f"127.0.0.1:{server.port}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
            **headers,
        }.items()
    )

    def send() -> None:
        try:
            sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the body's end

    sender = threading.Thread(target=send)
    sender.start()
    try:
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        sock.close()
        sender.join()


def padded_statement(size: int):
    """Valid JSON of a statement, padded with spaces to size bytes, in chunks."""
    head = json.dumps({"title": "Padded", "body": "b", "kind": "news"}).encode()
    yield head
    left = size - len(head)
    while left > 0:
        chunk = min(left, 64 * 1024)
        yield b" " * chunk
        left -= chunk


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 50 * 1024 * 1024])
def test_a_chunked_body_over_the_limit_is_413_and_changes_nothing(
    server, headers, sqlite_settings, size
):
    status, content_type, body = chunked_post(
        server, "/api/statements", headers, padded_statement(size)
    )
    assert (status, content_type) == (413, "application/problem+json"), body[:300]
    assert json.loads(body)["type"].endswith("/payload-too-large")
    app = PressOffice(env=sqlite_settings.eventsourcing_env())
    try:
        assert app.recorder.max_notification_id() is None  # nothing was written
    finally:
        app.close()


@pytest.mark.parametrize(
    ("size", "auth", "status"),
    [(2 * 1024 * 1024, True, 413), (200 * 1024, False, 401), (64 * 1024, False, 401)],
)
def test_a_refused_long_body_says_the_connection_closes_and_a_short_one_keeps_it(
    server, headers, size, auth, status
):
    """gunicorn drains at most 64 KiB of a body the app left unread, then
    closes: the refusal must say so, or the client's next request on the
    connection meets a closed socket."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    body = b'{"title": "Long", "body": "b", "kind": "news"}'.ljust(size)
    connection.request(
        "POST",
        "/api/statements",
        body=body,
        headers={"Content-Type": "application/json", **(headers if auth else {})},
    )
    refused = connection.getresponse()
    refused.read()
    assert refused.status == status
    assert refused.getheader("Connection") == "close"
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(
        "POST", "/api/statements", body=b"{}", headers={"Content-Type": "text/plain"}
    )
    short = connection.getresponse()
    short.read()
    assert short.status == 401 and short.getheader("Connection") == "keep-alive"
    connection.request("GET", "/healthz")
    assert connection.getresponse().status == 200  # the same connection
    connection.close()


def test_a_chunked_body_within_the_limit_is_taken(server, headers):
    status, _, body = chunked_post(
        server, "/api/statements", headers, padded_statement(1024 * 1024)
    )
    assert status == 201, body[:300]
    assert json.loads(body)["title"] == "Padded"


def test_control_characters_from_a_request_are_escaped_in_the_log(
    sqlite_settings, tmp_path
):
    """A request cannot write a line of its own into the server's log: neither
    through the app's warnings (a path decoded to a newline) nor through
    gunicorn's access log (the user of Basic credentials, decoded from base64)."""
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        server = Server(sqlite_settings, log_file=log_file)
        try:
            forged = requests.get(
                f"{server.url}/api/statements/abc%0aFAKE%20LOG%20LINE%0d%1b[2J",
                timeout=10,
            )
            credentials = base64.b64encode(b"x\nFAKE BASIC LINE\x1b[2J:pw").decode()
            basic = requests.get(
                f"{server.url}/healthz",
                headers={"Authorization": f"Basic {credentials}"},
                timeout=10,
            )
        finally:
            server.stop()
    assert (forged.status_code, basic.status_code) == (401, 200)
    log = log_path.read_bytes().decode()
    lines = log.splitlines()
    assert not [line for line in lines if line.startswith("FAKE")], log
    assert "\x1b" not in log and "\r" not in log
    assert "/api/statements/abc\\nFAKE LOG LINE\\r\\x1b[2J" in log  # the warning
    assert "x\\nFAKE BASIC LINE\\x1b[2J" in log  # the access log's user


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


FEED = "/feeds/all.atom"
# Headers that differ between two answers of the same bytes a moment apart.
PER_MOMENT = ("date", "x-accel-expires")


def publish_long_statements(server, headers, count: int, words: int) -> None:
    for n in range(count):
        requests.post(
            f"{server.url}/api/statements",
            json={
                "title": f"Statement {n}",
                "body": " ".join(f"word{n}-{i}" for i in range(words)),
                "kind": "news",
            },
            headers=headers,
            timeout=10,
        ).raise_for_status()


def kept_alive_answers(server, requests_: list[dict[str, str]]) -> list[tuple]:
    """Each request's status, headers (those that last) and body, all sent
    back-to-back over one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    answers = []
    try:
        for extra in requests_:
            path = extra.pop("path", FEED)
            connection.request("GET", path, headers=extra)
            response = connection.getresponse()
            body = response.read()
            assert not response.will_close, "the connection was not kept alive"
            lasting = sorted(
                (name.lower(), value)
                for name, value in response.getheaders()
                if name.lower() not in PER_MOMENT
            )
            answers.append((response.status, lasting, body))
    finally:
        connection.close()
    return answers


def test_feed_gets_kept_alive_each_get_the_answer_flask_gives(
    sqlite_settings, headers, tmp_path
):
    """Whichever way each is answered (the selector loop sends a kept feed
    answer itself, tests/test_server.py; a thread asks Flask), requests of
    every kind mixed on one kept-alive connection each get what the same
    request gets on a fresh one, and each has its line in the access log."""
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        server = Server(sqlite_settings, log_file=log_file)
        try:
            publish_long_statements(server, headers, count=3, words=50)
            wait_for_views(server.url)
            time.sleep(2.5)  # until the feed's Last-Modified may be shown
            identity = {"Accept-Encoding": "identity"}
            etag = requests.get(server.url + FEED, headers=identity, timeout=10)
            etag = etag.headers["ETag"]
            kinds = [
                {},
                {"Accept-Encoding": "gzip"},
                {"If-None-Match": etag},
                {"Accept-Encoding": "gzip", "If-None-Match": etag + "x"},
                {"Cookie": "pressfeed_language=fr"},
                {"path": FEED + "?page=1"},
                {"path": "/feeds/all.json"},
            ]
            sequence = [dict(kinds[n % len(kinds)]) for n in range(210)]
            expected = [kept_alive_answers(server, [dict(kind)])[0] for kind in kinds]
            answers = kept_alive_answers(server, [dict(r) for r in sequence])
        finally:
            server.stop()
    for n, answer in enumerate(answers):
        assert answer == expected[n % len(kinds)], f"request {n}"
    assert [a[0] for a in expected] == [200, 200, 304, 200, 200, 200, 200]
    logged = [
        line for line in log_path.read_text().splitlines() if '"GET /feeds/' in line
    ]
    assert len(logged) == 1 + len(kinds) + len(sequence)


def test_a_request_on_a_kept_connection_while_the_server_stops_is_answered(server):
    """A deploy or restart stops the worker: a request that comes on a kept-alive
    connection within gunicorn's linger (2 s) is answered, with Connection:
    close, rather than the connection reset."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/healthz")
    first = connection.getresponse()
    first.read()
    assert first.status == 200 and first.getheader("Connection") != "close"
    server.process.terminate()  # the master passes SIGTERM on to the worker
    time.sleep(1.5)  # past the loop's next pass (it waits 1 s at most)
    connection.request("GET", "/healthz")
    second = connection.getresponse()
    assert second.status == 200
    assert second.getheader("Connection") == "close"
    connection.close()
