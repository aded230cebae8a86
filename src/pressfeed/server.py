"""``pressfeed serve``: gunicorn with one process that also runs the projection
worker and the embargo scheduler.

One process, several threads: the embedded default on SQLite. For several web
processes, run gunicorn on ``pressfeed.web:create_app()`` and ``pressfeed worker``.

The threads are gunicorn's ``gthread`` worker's, with one change
(``HeadFirstWorker``): a connection reaches a thread only once its request head
has arrived whole, read by the worker's selector loop. gthread itself gives a
connection a thread as soon as its first bytes arrive and then reads the head
blocking, so a few clients that send half a head and wait held every thread.

The selector loop also answers, itself, the plainest request of all: a GET
of a feed whose answer the feed replay keeps (web/replay.py), on a kept-alive
HTTP/1.1 connection. That answer is bytes already; handing it to a thread
through gunicorn's parser and response cost more than the rest of the request.
Anything else, or anything unusual, goes to a thread as before.
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, partial
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.http.wsgi import SERVER
from gunicorn.util import http_date
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings
from pressfeed.logs import escape_in_handlers
from pressfeed.web import create_app
from pressfeed.web.replay import Answer, FeedReplay

HEAD_TIMEOUT = 10.0  # seconds a client has to send a whole request head
MAX_HEAD_BYTES = 64 * 1024  # a longer head is closed unanswered
IO_TIMEOUT = (
    30.0  # seconds one read or write of a thread may block (a body, a response)
)
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open


class _TimedSocket(socket.socket):
    """A client socket whose "blocking" mode times out: the threads read bodies
    and write responses with a bound on each call, not forever."""

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(IO_TIMEOUT)
        else:
            super().setblocking(False)


class HeadFirstWorker(ThreadWorker):
    """gthread, with each request head read by the selector loop before a
    thread is committed to the connection: for new connections, kept-alive
    ones and pipelined requests alike. A head not complete within HEAD_TIMEOUT,
    or longer than MAX_HEAD_BYTES, closes the connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads: dict[TConn, tuple[float, bytearray]] = {}
        self._writes: dict[TConn, float] = {}  # answers being sent: by when

    def accept(self, listener: socket.socket) -> None:
        try:
            client, address = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        sock = _TimedSocket(
            client.family, client.type, client.proto, fileno=client.detach()
        )
        self.enqueue_req(TConn(self.cfg, sock, address, listener.getsockname()))

    def enqueue_req(self, conn: TConn) -> None:
        if self.cfg.is_ssl or _buffered_head(conn):
            super().enqueue_req(conn)
            return
        conn.sock.setblocking(False)
        self._heads[conn] = (time.monotonic() + HEAD_TIMEOUT, bytearray())
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self._read_head, conn)
        )

    def _read_head(self, conn: TConn, _sock: Any) -> None:
        _deadline, head = self._heads[conn]
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data or len(head) + len(data) > MAX_HEAD_BYTES:
            self._drop_head(conn)
            return
        head += data
        if not _complete(_buffered(conn) + bytes(head)):
            return
        self.poller.unregister(conn.sock)
        del self._heads[conn]
        if self._answer_from_replay(conn, bytes(head)):
            return
        conn.init()  # plain HTTP/1: makes the parser, reads nothing
        conn.data_ready = True
        unreader = conn.parser.unreader
        unreader.unread(unreader.take_buffered() + bytes(head))
        super().enqueue_req(conn)

    def _drop_head(self, conn: TConn) -> None:
        self._heads.pop(conn, None)
        self._writes.pop(conn, None)
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, (deadline, _) in list(self._heads.items()):
            if deadline <= now or not self.alive:
                self._drop_head(conn)
        for conn, deadline in list(self._writes.items()):
            if deadline <= now:
                self._drop_head(conn)

    # Answers the feed replay keeps, sent by the selector loop

    @cached_property
    def _replay(self) -> FeedReplay | None:
        """The app's feed replay (None if it has none: another WSGI app)."""
        app = self.wsgi
        while app is not None and not isinstance(app, FeedReplay):
            app = getattr(app, "wsgi_app", None)
        return app

    def _answer_from_replay(self, conn: TConn, head: bytes) -> bool:
        """Sends the kept answer to a plain GET from this loop; False (having
        sent nothing) when a thread must answer the request."""
        try:
            sent = self._kept_answer(conn, head)
        except Exception:  # never the loop's end: a thread answers instead
            self.log.exception("Replaying a kept answer failed")
            return False
        if sent is None:
            return False
        self.nr += 1
        self._send(conn, memoryview(sent.response), sent)
        return True

    def _kept_answer(self, conn: TConn, head: bytes) -> Sent | None:
        if self._replay is None or _buffered(conn) or not self._may_keep_alive():
            return None
        request = PlainRequest.parse(head)
        position = self._replay.recent_position()
        if request is None or position is None:
            return None  # a thread answers, and reads the position again
        environ = request.environ(conn.client)
        answer = self._replay.replayed(environ, position)
        if answer is None or not _framed(answer):
            return None
        return Sent.of(request, environ, answer)

    def _may_keep_alive(self) -> bool:
        """Whether a thread would keep the connection alive after an answer,
        and no hook of the configuration expects to see the request."""
        return (
            self.alive
            and bool(self.cfg.keepalive)
            and len(self.keepalived_conns) < self.max_keepalived
            and self.nr + 1 < self.max_requests
            and not _hooked(self.cfg)
        )

    def _send(self, conn: TConn, rest: memoryview, sent: Sent) -> None:
        """Writes what the socket takes now; waits for it to take the rest."""
        self._writes.pop(conn, None)
        try:
            rest = rest[conn.sock.send(rest) :]
        except BlockingIOError:
            pass
        except OSError:
            self._drop_head(conn)
            return
        if rest:
            self._writes[conn] = time.monotonic() + IO_TIMEOUT
            self.poller.register(
                conn.sock,
                selectors.EVENT_WRITE,
                partial(self._send_more, conn, rest, sent),
            )
            return
        self.log.access(*sent.access_atoms())
        conn.set_timeout()  # kept alive, as a thread's answer would have been
        if not self.alive:
            conn.timeout = min(conn.timeout, time.monotonic() + STOP_KEEPALIVE_LINGER)
        self.keepalived_conns.append(conn)
        self.poller.register(
            conn.sock,
            selectors.EVENT_READ,
            partial(self.on_client_socket_readable, conn),
        )

    def _send_more(self, conn: TConn, rest: memoryview, sent: Sent, _sock: Any) -> None:
        self.poller.unregister(conn.sock)
        self._send(conn, rest, sent)


def _buffered(conn: TConn) -> bytes:
    return conn.parser.unreader.buf.getvalue() if conn.parser is not None else b""


def _complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data or b"\n\n" in data


def _buffered_head(conn: TConn) -> bool:
    """A pipelined request whose head is already read ahead."""
    return _complete(_buffered(conn))


def _framed(answer: Answer) -> bool:
    """Whether the client can tell where the answer ends on a kept-alive
    connection: it says its length, or is a 304 (which has no body)."""
    return answer.status.startswith("304") or any(
        name.lower() == "content-length" for name, _ in answer.headers
    )


def _hooked(cfg: Any) -> bool:
    """Whether the configuration sets a hook around each request."""
    return any(
        cfg.settings[name].value is not cfg.settings[name].default
        for name in ("pre_request", "post_request")
    )


# Request heads the loop answers: GET, HTTP/1.1, a path of plain characters
# and no query; header names of letters, digits and hyphens; nothing else.
REQUEST_LINE = re.compile(r"GET (/[A-Za-z0-9._~/-]*) HTTP/1\.1")
HEADER_LINE = re.compile(r"([A-Za-z0-9-]+):[ \t]*([\x20-\x7e]*?)[ \t]*")
# Headers after which a thread must answer: a body, a cookie, a change of
# protocol, an expectation, or anything about the connection but keep-alive.
THREAD_HEADERS = frozenset(
    (
        "CONTENT-LENGTH", "TRANSFER-ENCODING", "COOKIE", "UPGRADE", "EXPECT",
        "HTTP2-SETTINGS", "TE", "TRAILER",
    )
)  # fmt: skip


@dataclass(frozen=True)
class PlainRequest:
    """A request head simple enough for the selector loop to answer."""

    path: str
    headers: tuple[tuple[str, str], ...]  # (NAME, value), as gunicorn keeps them

    @classmethod
    def parse(cls, head: bytes) -> PlainRequest | None:
        """The request, or None when its head is anything but plain (a thread's
        parser then reads it, and answers or refuses it as gunicorn does)."""
        if not head.endswith(b"\r\n\r\n") or not head.isascii():
            return None
        first, *lines = head[:-4].decode("ascii").split("\r\n")
        request_line = REQUEST_LINE.fullmatch(first)
        if request_line is None or "//" in request_line[1]:
            return None
        headers = []
        for line in lines:
            header = HEADER_LINE.fullmatch(line)
            if header is None:
                return None
            headers.append((header[1].upper(), header[2]))
        names = [name for name, _ in headers]
        if len(set(names)) != len(names) or THREAD_HEADERS.intersection(names):
            return None
        if any(n == "CONNECTION" and v.lower() != "keep-alive" for n, v in headers):
            return None
        return cls(request_line[1], tuple(headers))

    def environ(self, client: Any) -> dict[str, Any]:
        """The WSGI environ keys the feed replay and the access log read."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": self.path,
            "RAW_URI": self.path,
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": client[0] if isinstance(client, tuple) else str(client),
        }
        for name, value in self.headers:
            environ["HTTP_" + name.replace("-", "_")] = value
        return environ


@dataclass(frozen=True)
class Sent:
    """An answer the loop sends: its bytes, and what its access-log line needs."""

    request: PlainRequest
    environ: dict[str, Any]
    answer: Answer
    started: float
    response: bytes  # as a gunicorn thread would have sent it, kept alive

    @classmethod
    def of(cls, request: PlainRequest, environ: dict[str, Any], answer: Answer) -> Sent:
        lines = [
            f"HTTP/1.1 {answer.status}",
            f"Server: {SERVER}",
            f"Date: {http_date()}",
            "Connection: keep-alive",
            *(f"{name}: {value}" for name, value in answer.headers),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return cls(request, environ, answer, time.monotonic(), head + answer.body)

    def access_atoms(self) -> tuple[Any, Any, dict[str, Any], timedelta]:
        """gunicorn's Logger.access arguments: response, request, environ, time."""
        response = _Logged(
            status=self.answer.status,
            sent=len(self.answer.body),
            headers=self.answer.headers,
        )
        request = _Logged(headers=list(self.request.headers))
        took = timedelta(seconds=time.monotonic() - self.started)
        return response, request, self.environ, took


class _Logged:
    """Attributes for gunicorn's access-log atoms."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


class EscapingLogger(Logger):
    """gunicorn's logger, with control characters escaped in its error and access
    logs (a request line, a header or a Basic user name cannot forge a line).
    For gunicorn run directly: --logger-class pressfeed.server.EscapingLogger."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        escape_in_handlers(self.error_log)
        escape_in_handlers(self.access_log)


class EmbeddedServer(BaseApplication):
    def __init__(self, settings: Settings, host: str, port: int, threads: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "pressfeed.server.HeadFirstWorker",
            "threads": threads,
            "keepalive": KEEP_ALIVE,
            "accesslog": "-",
            "logger_class": EscapingLogger,
            "control_socket_disable": True,  # gunicorn 25+: one socket per user clashes
            "post_worker_init": self._start_background_work,
            "worker_exit": self._stop_background_work,
        }
        self.pressfeed: Pressfeed | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # older gunicorns lack some settings
                self.cfg.set(key, value)

    def load(self) -> Flask:
        self.pressfeed = Pressfeed(self.settings)
        return create_app(services=self.pressfeed)

    def _start_background_work(self, _worker: Any) -> None:
        if self.pressfeed is not None:
            self.pressfeed.start_background()

    def _stop_background_work(self, _server: Any, _worker: Any) -> None:
        if self.pressfeed is not None:
            self.pressfeed.stop_background()


def serve(settings: Settings, host: str, port: int, threads: int = 8) -> None:
    EmbeddedServer(settings, host, port, threads).run()
