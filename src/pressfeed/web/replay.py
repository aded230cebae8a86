"""Feed readers ask for the same few feeds all day. Once Flask has answered a
feed, this WSGI middleware answers the same request again (the same path, the
same coding, the same outcome of the client's validators) with the status,
headers and bytes Flask gave, for as long as the views stay at the position
they were read at: the answer cannot differ, and half a millisecond of Flask
and werkzeug per request is saved.

It never guesses: whatever it has not seen Flask answer goes to Flask. Only
plain GETs are replayed (no query string, no cookie, no body), and only
answers the route marked replayable (web/caching.py's conditional_response).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pressfeed.web.caching import (
    REPLAYABLE,
    VIEWS_POSITION,
    Rendered,
    edge_expiry,
    expired,
    is_not_modified,
    uses_gzip,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MAX_REPLAYED_PATHS = 64  # the hot feeds; the rest are served by Flask
Headers = list[tuple[str, str]]
# Request headers that could change an answer: a replayed one has none of them.
VARYING = ("QUERY_STRING", "HTTP_COOKIE", "CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING")


@dataclass(frozen=True)
class Answer:
    """What Flask sent: the status line, its headers and its body."""

    status: str
    headers: Headers
    body: bytes


@dataclass
class Replayable:
    """The answers given for one path and coding, while the views stay at the
    position they were read at and the bytes' validators stay as they were."""

    position: int
    item: Rendered
    last_modified_shown: bool
    answers: dict[bool, Answer] = field(default_factory=dict)  # by "is a 304"

    def current(self, position: int) -> bool:
        return (
            position == self.position
            and not expired(self.item)
            and (self.item.last_modified_http is not None) == self.last_modified_shown
        )


class FeedReplay:
    """WSGI middleware: replays Flask's answers to plain GETs of replayable
    paths (see the module's docstring)."""

    def __init__(
        self,
        app: WSGIApplication,
        position: Callable[[], int],
        recent_position: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.app = app
        self.position = position  # the views' position, as the routes read it
        # The same, only if read lately; None rather than waiting on the store.
        self.recent_position = recent_position
        self._paths: OrderedDict[tuple[str, bool], Replayable] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def kept(self) -> int:
        """How many paths and codings have answers kept."""
        return len(self._paths)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if not may_replay(environ):
            return self.app(environ, start_response)
        position = self.position()
        answer = self.replayed(environ, position)
        if answer is None:
            return self._answer_and_keep(environ, start_response, position)
        start_response(answer.status, answer.headers)
        return [answer.body]

    def replayed(self, environ: WSGIEnvironment, position: int) -> Answer | None:
        """The answer Flask gave to this request (one may_replay admits) while
        the views were at position, if one is kept; None when Flask must answer."""
        path = environ.get("PATH_INFO", "")
        for gzip in (False, True):
            known = self._paths.get((path, gzip))
            if (
                known is not None
                and known.current(position)
                and uses_gzip(known.item, environ) == gzip
            ):
                etag = known.item.etag_for(gzip)
                answer = known.answers.get(is_not_modified(known.item, etag, environ))
                if answer is None:
                    return None
                return replace(answer, headers=with_fresh_expiry(answer.headers))
        return None

    def _answer_and_keep(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        position: int,
    ) -> Iterable[bytes]:
        """Flask answers, at this position (see context.views_position); a
        replayable answer is kept for the next request."""
        environ[VIEWS_POSITION] = position
        sent: list[tuple[str, Headers]] = []

        def keep_status(status: str, headers: Headers, exc_info: Any = None) -> Any:
            sent.append((status, list(headers)))
            return start_response(status, headers, exc_info)

        body = self.app(environ, keep_status)
        item = environ.get(REPLAYABLE)
        if not isinstance(item, Rendered) or not sent:
            return body
        chunks = list(body)
        getattr(body, "close", lambda: None)()
        status, headers = sent[0]
        answer = Answer(status, headers, b"".join(chunks))
        self._keep(environ.get("PATH_INFO", ""), position, item, environ, answer)
        return chunks

    def _keep(
        self,
        path: str,
        position: int,
        item: Rendered,
        environ: WSGIEnvironment,
        answer: Answer,
    ) -> None:
        gzip = uses_gzip(item, environ)
        etag = item.etag_for(gzip)
        not_modified = is_not_modified(item, etag, environ)
        if answer.status[:3] != ("304" if not_modified else str(item.status)):
            return  # not the answer the bytes give: never replayed
        key = (path, gzip)
        with self._lock:
            known = self._paths.get(key)
            shown = item.last_modified_http is not None
            if known is None or known.item is not item or not known.current(position):
                known = self._paths[key] = Replayable(position, item, shown)
            known.answers[not_modified] = answer
            self._paths.move_to_end(key)
            while len(self._paths) > MAX_REPLAYED_PATHS:
                self._paths.popitem(last=False)


def may_replay(environ: WSGIEnvironment) -> bool:
    """A GET with none of the request headers that could change an answer."""
    return environ.get("REQUEST_METHOD") == "GET" and not any(
        environ.get(name) for name in VARYING
    )


def with_fresh_expiry(headers: Headers) -> Headers:
    """The headers with X-Accel-Expires for this second (it names the second)."""
    return [
        (name, edge_expiry() if name == "X-Accel-Expires" else value)
        for name, value in headers
    ]
