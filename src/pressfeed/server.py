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
import os
import selectors
import socket
import time
from functools import cached_property, partial
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings
from pressfeed.logs import escape_in_handlers
from pressfeed.plain_get import HeadRules, PlainRequest, Reply, sendable
from pressfeed.web import create_app
from pressfeed.web.replay import FeedReplay

HEAD_TIMEOUT = 10.0  # seconds a client has to send a whole request head
MAX_HEAD_BYTES = 64 * 1024  # a longer head is closed unanswered
IO_TIMEOUT = (
    30.0  # seconds one read or write of a thread may block (a body, a response)
)
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open
# What gunicorn drains of a body the app left unread: at this many bytes it
# stops (before reading the body's end) and closes instead.
DRAINED_BODY_BYTES = 64 * 1024


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
        # Kept answers the loop is sending: by when the socket must take more.
        self._writes: dict[TConn, tuple[float, Reply]] = {}

    def load_wsgi(self) -> None:
        super().load_wsgi()
        loaded: Any = self  # gunicorn's Worker is untyped
        loaded.wsgi = closing_after_refused_bodies(loaded.wsgi)

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
        if (
            self.cfg.is_ssl
            or _buffered_head(conn)
            or negotiation.prior_knowledge_allowed(self.cfg, conn.client)
        ):  # TLS, or HTTP/2 may come: gunicorn reads the first bytes itself
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
        if not _completed_by(conn, head, len(data)):
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
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Drops heads past their deadline; once stopping, a head has at most
        STOP_KEEPALIVE_LINGER more (as gthread gives a kept-alive connection),
        so a request that arrives meanwhile is answered, with Connection: close."""
        super().murder_pending()
        now = time.monotonic()
        for conn, (deadline, head) in list(self._heads.items()):
            if not self.alive and deadline > now + STOP_KEEPALIVE_LINGER:
                deadline = now + STOP_KEEPALIVE_LINGER
                self._heads[conn] = (deadline, head)
            if deadline <= now:
                self._drop_head(conn)
        for conn, (deadline, reply) in list(self._writes.items()):
            if deadline <= now:
                self._give_up(conn, reply)

    # Answers the feed replay keeps, sent by the selector loop (decision 21)

    @cached_property
    def _replay(self) -> FeedReplay | None:
        """The app's feed replay, if the loop may answer from it: not when a
        hook expects to see each request, the app is mounted under a
        SCRIPT_NAME, or something other than a plain HTTP/1 head may come
        first (a PROXY protocol line, HTTP/2 with prior knowledge)."""
        cfg = self.cfg
        if (
            _hooked(cfg)
            or os.environ.get("SCRIPT_NAME")
            or cfg.proxy_protocol != "off"
            or cfg.http2_cleartext != "off"
        ):
            return None
        app = self.wsgi
        while app is not None and not isinstance(app, FeedReplay):
            app = getattr(app, "wsgi_app", None)
        return app

    @cached_property
    def _head_rules(self) -> HeadRules:
        return HeadRules.of(self.cfg)

    def _answer_from_replay(self, conn: TConn, head: bytes) -> bool:
        """Sends the kept answer to a plain GET from this loop; False (having
        sent nothing) when a thread must answer the request."""
        try:
            reply = self._kept_reply(conn, head)
        except Exception:  # never the loop's end: a thread answers instead
            self.log.exception("Replaying a kept answer failed")
            return False
        if reply is None:
            return False
        self.nr += 1
        self._send(conn, reply)
        return True

    def _kept_reply(self, conn: TConn, head: bytes) -> Reply | None:
        if self._replay is None or _buffered(conn) or not self._may_keep_alive():
            return None
        request = PlainRequest.parse(head, self._head_rules)
        if request is None:
            return None
        position = self._replay.recent_position()
        if position is None:
            return None  # a thread answers, and reads the position again
        environ = request.environ(conn.client)
        answer = self._replay.replayed(environ, position)
        if answer is None or not sendable(answer):
            return None
        return Reply(request, environ, answer)

    def _may_keep_alive(self) -> bool:
        """Whether a thread would keep the connection alive after an answer."""
        return (
            self.alive
            and bool(self.cfg.keepalive)
            and len(self.keepalived_conns) < self.max_keepalived
            and self.nr + 1 < self.max_requests
        )

    def _send(self, conn: TConn, reply: Reply) -> None:
        """Writes what the socket takes now; waits for it to take the rest."""
        try:
            reply.written += conn.sock.sendmsg(reply.unsent())
        except BlockingIOError:
            pass
        except OSError:
            self._give_up(conn, reply)
            return
        if not reply.done:
            self._writes[conn] = (time.monotonic() + IO_TIMEOUT, reply)
            self.poller.register(
                conn.sock, selectors.EVENT_WRITE, partial(self._send_more, conn, reply)
            )
            return
        self._writes.pop(conn, None)
        self.log.access(*reply.access_atoms())
        conn.set_timeout()  # kept alive, as a thread's answer would have been
        if not self.alive:
            conn.timeout = min(conn.timeout, time.monotonic() + STOP_KEEPALIVE_LINGER)
        self.keepalived_conns.append(conn)
        self.poller.register(
            conn.sock,
            selectors.EVENT_READ,
            partial(self.on_client_socket_readable, conn),
        )

    def _send_more(self, conn: TConn, reply: Reply, _sock: Any) -> None:
        self.poller.unregister(conn.sock)
        self._send(conn, reply)

    def _give_up(self, conn: TConn, reply: Reply) -> None:
        """Closes a connection whose reader left or stopped reading; its
        access-log line counts the body bytes it took."""
        self._writes.pop(conn, None)
        self.log.access(*reply.access_atoms())
        self._drop_head(conn)


def closing_after_refused_bodies(app: Any) -> Any:
    """The app, its refusals (4xx, 5xx) of a body longer than gunicorn drains
    answered with Connection: close. Such a body is mostly left unread (a 413,
    a 401 before reading), and gunicorn then closes the connection; it reads
    an app's own Connection header as hop-by-hop and drops it, so without this
    the answer said keep-alive and the client's next request met a closed
    socket."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            if int(status[:3]) >= 400 and _body_length(environ) >= DRAINED_BODY_BYTES:
                response: Any = getattr(start_response, "__self__", None)
                if hasattr(response, "force_close"):  # gunicorn's Response
                    response.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wrapped


def _body_length(environ: dict[str, Any]) -> int:
    """The request body's length as announced (a chunked one over the limit is
    announced by web.BoundedBody as one byte over it)."""
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _buffered(conn: TConn) -> bytes:
    return conn.parser.unreader.buf.getvalue() if conn.parser is not None else b""


def _complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data or b"\n\n" in data


def _completed_by(conn: TConn, head: bytearray, new: int) -> bool:
    """Whether the head's last `new` bytes ended it (after what the parser had
    read ahead): only they and the 3 bytes before them are searched, so a head
    sent a byte at a time costs linear time, not quadratic."""
    start = len(head) - new - 3
    if start < 0:
        return _complete(_buffered(conn)[-3:] + bytes(head))
    return _complete(bytes(head[start:]))


def _buffered_head(conn: TConn) -> bool:
    """A pipelined request whose head is already read ahead."""
    return _complete(_buffered(conn))


def _hooked(cfg: Any) -> bool:
    """Whether the configuration sets a hook around each request."""
    return any(
        cfg.settings[name].value is not cfg.settings[name].default
        for name in ("pre_request", "post_request")
    )


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
