"""Rendered bytes kept until the views move, compressed once, and served with
conditional GET (ETag, Last-Modified, 304).

Every web process keeps its own copy, keyed by the views' position in the
database: a process never serves bytes older than the views it can read. The
validators come from the bytes and from the views, never from the process: one
set of bytes has the same ETag and Last-Modified in every process.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from flask import Response, request
from werkzeug.http import http_date, parse_accept_header, parse_date, parse_etags

from pressfeed.representation import StatementDocument
from pressfeed.times import EPOCH, parse_time

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

GZIP_MIN_BYTES = 512  # smaller bodies gain nothing from compression
SHARED_CACHE_SECONDS = 1  # how long a shared cache (a proxy, a CDN) may reuse a copy
STALE_IF_ERROR_SECONDS = 86_400  # a copy a shared cache may serve while we are down
REPLAYABLE = "pressfeed.replayable"  # the environ key of a replayable answer's bytes
# The environ key of the views' position a request renders at: read once, by
# the feed replay when it may keep the answer (it keeps it under that position).
VIEWS_POSITION = "pressfeed.views_position"


def public_cache_control(max_age: int) -> str:
    """Cache-Control of a public page or feed: browsers and feed readers keep it
    max_age seconds; shared caches revalidate after SHARED_CACHE_SECONDS (cheap:
    an ETag and a 304), and may serve their copy during an outage."""
    return (
        f"public, max-age={max_age}, s-maxage={SHARED_CACHE_SECONDS}, "
        f"stale-if-error={STALE_IF_ERROR_SECONDS}"
    )


def edge_expiry() -> str:
    """X-Accel-Expires for nginx: the copy is fresh until the end of the current
    wall-clock second. nginx counts validity in whole seconds and keeps a copy
    valid through the second its validity ends, so s-maxage=1 alone would let it
    serve a copy for up to two seconds; an absolute "@second" bounds it by one."""
    return f"@{int(time.time())}"


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: datetime
    expires_at: float | None = None  # wall-clock second after which to render again
    status: int = 200
    gzipped: bytes | None = None  # the body compressed once, when worth it

    @property
    def last_modified_http(self) -> str | None:
        """The HTTP date, or None while it lies ahead: a version stamped a second
        later than the one before it (to tell them apart) is sent with its ETag
        alone until that second comes, in every process alike (RFC 9110 forbids
        a Last-Modified later than the response's Date)."""
        if self.last_modified > datetime.now(UTC):
            return None
        return self._last_modified_date

    @cached_property
    def _last_modified_date(self) -> str:
        return http_date(self.last_modified)

    @cached_property
    def gzip_etag(self) -> str:
        """The ETag of the gzip-coded bytes: another representation, another tag."""
        return self.etag[:-1] + '-gzip"'

    def etag_for(self, gzip: bool) -> str:
        """The ETag of the bytes sent: gzip-coded or identity."""
        return self.gzip_etag if gzip else self.etag

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


def rendered(
    body: bytes,
    last_modified: datetime,
    expires_at: float | None = None,
    status: int = 200,
) -> Rendered:
    """Bytes ready to serve: tagged by their hash, compressed once."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    gzipped = None
    if len(body) >= GZIP_MIN_BYTES:
        gzipped = gzip.compress(body, compresslevel=6, mtime=0)
    return Rendered(body, f'"{digest}"', last_modified, expires_at, status, gzipped)


def last_modified(documents: Iterable[StatementDocument]) -> datetime:
    """The newest Last-Modified the views gave these documents."""
    return max(
        (parse_time(d["last_modified"]) for d in documents if "last_modified" in d),
        default=EPOCH,
    )


class _Flight:
    """One rendering in progress: those who ask for the same key and position
    meanwhile wait for it instead of rendering the same bytes again."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.done = threading.Event()
        self.result: Rendered | None = None


class RenderedCache:
    """A bounded LRU of rendered documents, each valid for one views position.

    Bounded by bytes, not by count: archive pages weigh hundreds of kilobytes,
    and a crawler walking every page must not grow the process. Single-flight
    per key: concurrent misses of one key at one position render it once.
    """

    def __init__(self, max_bytes: int) -> None:
        self._entries: OrderedDict[str, tuple[int, Rendered]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self._bytes = 0
        self.max_bytes = max_bytes

    def get(self, key: str, position: int, render: Callable[[], Rendered]) -> Rendered:
        while True:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None and hit[0] == position and not expired(hit[1]):
                    self._entries.move_to_end(key)
                    return hit[1]
                flight = self._flights.get(key)
                leader = flight is None or flight.position != position
                if leader:
                    flight = self._flights[key] = _Flight(position)
            assert flight is not None
            if leader:
                return self._render(key, flight, render)
            flight.done.wait()
            if flight.result is not None:
                return flight.result
            # the leader's rendering failed: try again, perhaps as the leader

    def _render(
        self, key: str, flight: _Flight, render: Callable[[], Rendered]
    ) -> Rendered:
        try:
            fresh = render()
        except BaseException:
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()
            raise
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1].size
            self._entries[key] = (flight.position, fresh)
            self._bytes += fresh.size
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted.size
        flight.result = fresh
        flight.done.set()
        return fresh

    @property
    def size_in_bytes(self) -> int:
        return self._bytes


def expired(item: Rendered) -> bool:
    """Past the wall-clock second after which it is rendered again."""
    return item.expires_at is not None and time.time() >= item.expires_at


def conditional_response(
    item: Rendered, content_type: str, cache_control: str, *, replayable: bool = False
) -> Response:
    """200 with the bytes (gzip-coded when the client takes it), or 304 when the
    client's copy is current. replayable: the answer depends on nothing but the
    path, the bytes and the request's coding and validators, so the web process
    may answer the same request again without Flask (web/replay.py)."""
    use_gzip = uses_gzip(item, request.environ)
    if replayable:
        request.environ[REPLAYABLE] = item
    headers = {
        "ETag": item.etag_for(use_gzip),
        "Cache-Control": cache_control,
        "Vary": "Accept-Encoding",
    }
    if cache_control.startswith("public"):
        headers["X-Accel-Expires"] = edge_expiry()
    if (modified := item.last_modified_http) is not None:
        headers["Last-Modified"] = modified
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    if is_not_modified(item, headers["ETag"], request.environ):
        headers.pop("Content-Encoding", None)
        return Response(status=304, headers=headers)
    body = item.gzipped if use_gzip and item.gzipped is not None else item.body
    return Response(
        body, status=item.status, content_type=content_type, headers=headers
    )


def uses_gzip(item: Rendered, environ: WSGIEnvironment) -> bool:
    """Whether the client gets the gzip-coded bytes."""
    return item.gzipped is not None and _gzip_accepted_by(
        environ.get("HTTP_ACCEPT_ENCODING", "")
    )


@lru_cache(maxsize=256)
def _gzip_accepted_by(accept_encoding: str) -> bool:
    """Parsed once per distinct header: feed readers send a handful of them."""
    return parse_accept_header(accept_encoding).quality("gzip") > 0


def is_not_modified(item: Rendered, etag: str, environ: WSGIEnvironment) -> bool:
    """The client holds the representation it would get now (the ETag of the
    coding chosen for it; then dates): a 304."""
    if item.status != 200:
        return False
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if if_none_match is None and if_modified_since is None:
        return False
    if if_none_match:
        return parse_etags(if_none_match).contains_weak(etag.strip('"'))
    since = parse_date(if_modified_since)
    if since is None or _from_the_future(since, item.last_modified):
        return False
    return item.last_modified.replace(microsecond=0) <= since


def _from_the_future(since: datetime, last_modified: datetime) -> bool:
    """An If-Modified-Since later than both now and the Last-Modified we send
    (which may run a few seconds ahead in a burst of changes): a client's
    wrong clock, not a copy we gave it. Ignored, as an invalid date is, or that
    client would keep a stale copy until the date passed."""
    return since > max(datetime.now(UTC), last_modified) + timedelta(seconds=1)
