"""The feed GETs simple enough for the server's selector loop to answer itself
(server.HeadFirstWorker, decision 21), and their answers on the way out.

A request is plain when a gunicorn thread could only have read it one way:
``GET /path HTTP/1.1`` with a path of plain characters and no query, header
names of letters, digits and hyphens (each once), printable values, within
gunicorn's limits, and none of the headers that change how gunicorn or the
app treats a request. Anything else goes to a thread, whose parser answers or
refuses it as gunicorn always does.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gunicorn.http.message import (
    DEFAULT_MAX_HEADERFIELD_SIZE,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
)
from gunicorn.http.wsgi import SERVER
from gunicorn.util import http_date, is_hoppish

from pressfeed.web.replay import Answer

# Every pattern is a run of one character class: matching is linear, so a
# head of 64 KiB cannot keep the loop busy.
REQUEST_LINE = re.compile(r"GET (/[A-Za-z0-9._~/-]*) HTTP/1\.1")
HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
# Headers after which a thread must answer: a body, a cookie, a change of
# protocol, an expectation, or anything about the connection but keep-alive.
THREAD_HEADERS = frozenset(
    (
        "CONTENT-LENGTH", "TRANSFER-ENCODING", "COOKIE", "UPGRADE", "EXPECT",
        "HTTP2-SETTINGS", "TE", "TRAILER",
    )
)  # fmt: skip


@dataclass(frozen=True)
class HeadRules:
    """What of gunicorn's configuration a plain head must respect: its limits
    (a longer head gets its 4xx from a thread) and the headers gunicorn acts
    on itself (the scheme a trusted proxy names, forwarded WSGI variables).
    The limits are those gunicorn's parser applies (see of)."""

    request_line: int = 4094  # characters before CRLF; 0: no limit
    fields: int = 100  # header lines
    field_size: int = 8190  # characters of a header line with its CRLF
    for_threads: frozenset[str] = THREAD_HEADERS
    # gunicorn refuses a request whose scheme headers disagree: with more
    # than one of them, a thread decides.
    scheme_headers: frozenset[str] = frozenset()

    @classmethod
    def of(cls, cfg: Any) -> HeadRules:
        """The rules of a gunicorn configuration, its limits read as its parser
        reads them: a request line limit from MAX_REQUEST_LINE up is
        MAX_REQUEST_LINE (0 none); a field count of 0 or less, or past
        MAX_HEADERS, is MAX_HEADERS; a field size of 0 or less the default."""
        line = cfg.limit_request_line
        if line >= MAX_REQUEST_LINE:
            line = MAX_REQUEST_LINE
        fields = cfg.limit_request_fields
        if fields <= 0 or fields > MAX_HEADERS:
            fields = MAX_HEADERS
        size = cfg.limit_request_field_size
        forwarded = {name.upper() for name in cfg.forwarder_headers}
        return cls(
            line,
            fields,
            size if size > 0 else DEFAULT_MAX_HEADERFIELD_SIZE,
            THREAD_HEADERS | forwarded,
            frozenset(name.upper() for name in cfg.secure_scheme_headers),
        )


@dataclass(frozen=True)
class PlainRequest:
    """A request head simple enough for the selector loop to answer."""

    path: str
    headers: tuple[tuple[str, str], ...]  # (NAME, value), as gunicorn keeps them

    @classmethod
    def parse(cls, head: bytes, rules: HeadRules = HeadRules()) -> PlainRequest | None:
        """The request, or None when its head is anything but plain."""
        if not head.endswith(b"\r\n\r\n") or not head.isascii():
            return None
        first, *lines = head[:-4].decode("ascii").split("\r\n")
        request_line = REQUEST_LINE.fullmatch(first)
        if (
            request_line is None
            or "//" in request_line[1]
            or (rules.request_line and len(first) > rules.request_line)
            or len(lines) > rules.fields
        ):
            return None
        headers = []
        for line in lines:
            name, colon, value = line.partition(":")
            value = value.strip(" \t")
            if (
                not colon
                or len(line) + len("\r\n") > rules.field_size
                or not HEADER_NAME.fullmatch(name)
                or not HEADER_VALUE.fullmatch(value)
            ):
                return None
            headers.append((name.upper(), value))
        names = [name for name, _ in headers]
        if (
            len(set(names)) != len(names)
            or rules.for_threads.intersection(names)
            or len(rules.scheme_headers.intersection(names)) > 1
        ):
            return None
        if any(n == "CONNECTION" and v.lower() != "keep-alive" for n, v in headers):
            return None
        return cls(request_line[1], tuple(headers))

    def environ(self, client: Any) -> dict[str, Any]:
        """The WSGI environ keys the feed replay and the access log read."""
        remote = client if isinstance(client, tuple) else (str(client), "")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": self.path,
            "RAW_URI": self.path,
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": str(remote[0]),
            "REMOTE_PORT": str(remote[1]),
            "wsgi.url_scheme": "http",
        }
        for name, value in self.headers:
            environ["HTTP_" + name.replace("-", "_")] = value
        return environ


def sendable(answer: Answer) -> bool:
    """Whether the loop may send the answer as it is: the client can tell
    where it ends (it says its length, or is a 304, which has no body), and it
    has no header gunicorn would have dropped (hop-by-hop ones)."""
    names = [name.lower() for name, _ in answer.headers]
    framed = answer.status.startswith("304") or "content-length" in names
    return framed and not any(is_hoppish(name) for name in names)


class Reply:
    """A kept answer on its way to one client: the head a gunicorn thread
    would have written, then the kept body (shared, never copied), and how
    much of them the socket has taken."""

    def __init__(
        self, request: PlainRequest, environ: dict[str, Any], answer: Answer
    ) -> None:
        self.request, self.environ, self.answer = request, environ, answer
        lines = [
            f"HTTP/1.1 {answer.status}",
            f"Server: {SERVER}",
            f"Date: {http_date()}",
            "Connection: keep-alive",
            *(f"{name}: {value}" for name, value in answer.headers),
        ]
        self.head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.started = time.monotonic()
        self.written = 0

    def unsent(self) -> list[memoryview]:
        """What is left to write, as buffers for socket.sendmsg."""
        body = memoryview(self.answer.body)
        if self.written < len(self.head):
            return [memoryview(self.head)[self.written :], body]
        return [body[self.written - len(self.head) :]]

    @property
    def done(self) -> bool:
        return self.written >= len(self.head) + len(self.answer.body)

    def access_atoms(self) -> tuple[Any, Any, dict[str, Any], timedelta]:
        """gunicorn's Logger.access arguments: response, request, environ and
        time taken; the bytes counted are those of the body sent so far."""
        response = _Logged(
            status=self.answer.status,
            sent=max(0, self.written - len(self.head)),
            headers=self.answer.headers,
        )
        request = _Logged(headers=list(self.request.headers))
        took = timedelta(seconds=time.monotonic() - self.started)
        return response, request, self.environ, took


class _Logged:
    """Attributes for gunicorn's access-log atoms."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)
