"""HeadFirstWorker's selector loop sends a kept feed answer itself: over a real
socket pair, with a real app and store, driven as gunicorn's loop drives it."""

from __future__ import annotations

import http.client
import os
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from pressfeed.server import HeadFirstWorker, _TimedSocket
from pressfeed.web import create_app

FEED = "/feeds/all.atom"
ASK = f"GET {FEED} HTTP/1.1\r\nHost: news.example\r\n\r\n".encode()
# Headers that name the moment, or the connection, rather than the answer.
PER_ANSWER = {"date", "x-accel-expires", "server", "connection"}


@pytest.fixture
def app(services, publisher):
    """The web app with a feed of long statements, answered once by Flask."""
    app = create_app(services=services)
    client = app.test_client()
    for n in range(4):
        body = " ".join(f"word{n}-{i}" for i in range(6000))
        created = client.post(
            "/api/statements",
            json={"title": f"Statement {n}", "body": body, "kind": "news"},
            headers=publisher,
        )
        assert created.status_code == 201
    assert services.views_catch_up(timeout=10) == 0
    replay = app.wsgi_app
    # The position as if read a moment ago, at any pace of the test machine.
    replay.recent_position = replay.position
    flask_answer(app)  # kept by the replay from now on
    return app


def flask_answer(app) -> tuple[int, dict[str, str], bytes]:
    answer = app.test_client().get(FEED, headers={"Host": "news.example"})
    return answer.status_code, lasting(answer.headers.items()), answer.data


def lasting(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers if k.lower() not in PER_ANSWER}


@pytest.fixture
def worker(app, tmp_path) -> Iterator[HeadFirstWorker]:
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    worker = HeadFirstWorker(1, os.getppid(), [], None, 30, cfg, Logger(cfg))
    worker.wsgi = app
    worker.poller = selectors.DefaultSelector()
    yield worker
    worker.poller.close()


@pytest.fixture
def pair(worker) -> Iterator[tuple[TConn, socket.socket]]:
    """A connection as the worker holds it, and the reader's end of it."""
    served, reader = socket.socketpair()
    sock = _TimedSocket(served.family, served.type, served.proto, served.detach())
    conn = TConn(worker.cfg, sock, ("127.0.0.1", 40000), ("127.0.0.1", 5000))
    worker.nr_conns += 1
    yield conn, reader
    reader.close()
    conn.sock.close()


def small_buffers(conn: TConn, reader: socket.socket) -> None:
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)


@contextmanager
def loop_running(worker: HeadFirstWorker, conn: TConn) -> Iterator[None]:
    """The worker's selector loop, in a thread, while it sends to conn."""

    def run() -> None:
        deadline = time.monotonic() + 10
        while conn in worker._writes and time.monotonic() < deadline:
            worker.wait_for_and_dispatch_events(0.05)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def read_answer(reader: socket.socket) -> tuple[int, dict[str, str], bytes]:
    reader.settimeout(10)
    response = http.client.HTTPResponse(reader)
    response.begin()
    return response.status, lasting(response.getheaders()), response.read()


def access_lines(tmp_path) -> list[str]:
    return (tmp_path / "access.log").read_text().splitlines()


def test_the_loop_sends_what_flask_sent_and_keeps_the_connection(
    app, worker, pair, tmp_path
):
    conn, reader = pair
    expected = flask_answer(app)
    assert worker._answer_from_replay(conn, ASK)
    with loop_running(worker, conn):
        assert read_answer(reader) == expected
    assert list(worker.keepalived_conns) == [conn]
    assert worker.poller.get_key(conn.sock).events == selectors.EVENT_READ
    [line] = access_lines(tmp_path)
    assert f'"GET {FEED} HTTP/1.1" 200 {len(expected[2])}' in line


def test_a_slow_reader_gets_the_rest_as_it_reads(app, worker, pair, tmp_path):
    conn, reader = pair
    small_buffers(conn, reader)
    expected = flask_answer(app)
    assert len(expected[2]) > 100_000
    assert worker._answer_from_replay(conn, ASK)
    assert conn in worker._writes and not worker.keepalived_conns
    assert worker.poller.get_key(conn.sock).events == selectors.EVENT_WRITE
    with loop_running(worker, conn):
        time.sleep(0.2)  # the reader takes nothing for a while
        assert conn in worker._writes
        assert read_answer(reader) == expected
    assert list(worker.keepalived_conns) == [conn]
    assert len(access_lines(tmp_path)) == 1


def test_a_reader_that_leaves_mid_answer_is_closed_and_logged(
    app, worker, pair, tmp_path
):
    conn, reader = pair
    small_buffers(conn, reader)
    body = flask_answer(app)[2]
    assert worker._answer_from_replay(conn, ASK)
    reader.close()
    worker.wait_for_and_dispatch_events(1.0)
    assert conn not in worker._writes and worker.nr_conns == 0
    assert conn.sock.fileno() == -1
    [line] = access_lines(tmp_path)
    sent = int(line.split('" 200 ')[1].split()[0])
    assert 0 <= sent < len(body)


def test_a_reader_that_stops_reading_is_dropped_at_the_deadline(worker, pair):
    conn, reader = pair
    small_buffers(conn, reader)
    assert worker._answer_from_replay(conn, ASK)
    worker.murder_pending()
    assert conn in worker._writes  # within its 30 s
    _deadline, reply = worker._writes[conn]
    worker._writes[conn] = (0.0, reply)
    worker.murder_pending()
    assert conn not in worker._writes and worker.nr_conns == 0


@pytest.mark.parametrize(
    "situation",
    [
        "unusual head",
        "stopping",
        "hook",
        "mounted",
        "proxy protocol",
        "http/2 cleartext",
        "position not recent",
    ],
)
def test_otherwise_a_thread_answers(app, worker, pair, monkeypatch, situation):
    conn, reader = pair
    ask = ASK
    if situation == "unusual head":
        ask = ASK.replace(b"\r\n\r\n", b"\r\nCookie: a=b\r\n\r\n")
    elif situation == "stopping":
        worker.alive = False
    elif situation == "hook":
        worker.cfg.set("pre_request", lambda worker, request: None)
    elif situation == "mounted":
        monkeypatch.setenv("SCRIPT_NAME", "/news")
    elif situation == "proxy protocol":
        worker.cfg.set("proxy_protocol", "v1")
    elif situation == "http/2 cleartext":
        worker.cfg.set("http2_cleartext", "prior-knowledge")
    else:
        app.wsgi_app.recent_position = lambda: None
    assert not worker._answer_from_replay(conn, ask)
    reader.setblocking(False)
    with pytest.raises(BlockingIOError):
        reader.recv(1)  # nothing was sent
    assert worker.nr == 0


def test_a_request_arriving_on_a_kept_connection_while_stopping_is_answered(
    worker, pair, monkeypatch
):
    """As gthread does: kept-alive connections linger STOP_KEEPALIVE_LINGER
    once the worker stops, and a request arriving meanwhile reaches a thread
    (which answers it with Connection: close) instead of a reset."""
    conn, reader = pair
    handed: list[TConn] = []
    monkeypatch.setattr(ThreadWorker, "enqueue_req", lambda _self, c: handed.append(c))
    worker.enqueue_req(conn)  # kept alive: its next head is awaited
    worker.alive = False
    worker.murder_pending()  # the loop's pass right after the stop
    deadline, _ = worker._heads[conn]
    assert deadline <= time.monotonic() + STOP_KEEPALIVE_LINGER
    reader.sendall(ASK)
    worker.wait_for_and_dispatch_events(1.0)
    assert handed == [conn] and conn not in worker._heads


def test_a_head_not_come_when_the_stop_lingered_out_is_dropped(worker, pair):
    conn, _reader = pair
    worker.enqueue_req(conn)
    worker.alive = False
    worker.murder_pending()
    _deadline, head = worker._heads[conn]
    worker._heads[conn] = (time.monotonic() - 0.001, head)
    worker.murder_pending()
    assert conn not in worker._heads and worker.nr_conns == 0


def test_a_head_sent_a_byte_at_a_time_is_read_whole_and_answered(app, worker, pair):
    conn, reader = pair
    worker.enqueue_req(conn)
    for byte in ASK:
        reader.sendall(bytes([byte]))
        worker.wait_for_and_dispatch_events(1.0)
    assert conn not in worker._heads and worker.nr == 1  # the loop answers
    with loop_running(worker, conn):
        assert read_answer(reader) == flask_answer(app)


def test_where_http2_may_come_with_prior_knowledge_gunicorn_reads_first(
    worker, pair, monkeypatch
):
    """gunicorn must read the HTTP/2 preface itself (--http2-cleartext
    prior-knowledge or both, from a trusted peer): no head is read first."""
    conn, _reader = pair
    handed: list[TConn] = []
    monkeypatch.setattr(ThreadWorker, "enqueue_req", lambda _self, c: handed.append(c))
    monkeypatch.setattr(negotiation, "prior_knowledge_allowed", lambda cfg, peer: True)
    worker.enqueue_req(conn)
    assert handed == [conn] and conn not in worker._heads
