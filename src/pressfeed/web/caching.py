"""Rendered bytes kept until the views move, and conditional GET (ETag, 304).

Every worker process keeps its own copy, keyed by the views' position in the
database: a process never serves bytes older than the views it can read.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property

from flask import Response, request
from werkzeug.http import http_date


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: datetime
    expires_at: float | None = None  # wall-clock second after which to render again
    status: int = 200

    @cached_property
    def last_modified_http(self) -> str:
        return http_date(self.last_modified)


def rendered(
    body: bytes,
    last_modified: datetime,
    expires_at: float | None = None,
    status: int = 200,
) -> Rendered:
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Rendered(body, f'"{digest}"', last_modified, expires_at, status)


class RenderedCache:
    """A bounded LRU of rendered documents, each valid for one views position.

    Bounded by bytes, not by count: archive pages weigh hundreds of kilobytes,
    and a crawler walking every page must not grow the process.
    """

    def __init__(self, max_bytes: int) -> None:
        self._entries: OrderedDict[str, tuple[int, Rendered]] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.max_bytes = max_bytes

    def get(self, key: str, position: int, render: Callable[[], Rendered]) -> Rendered:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] == position and not _expired(hit[1]):
                self._entries.move_to_end(key)
                return hit[1]
        fresh = render()
        with self._lock:
            old = self._entries.pop(key, None)
            fresh = _dated(fresh, old[1] if old else None)
            if old is not None:
                self._bytes -= len(old[1].body)
            self._entries[key] = (position, fresh)
            self._bytes += len(fresh.body)
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)
        return fresh

    @property
    def size_in_bytes(self) -> int:
        return self._bytes


def _dated(fresh: Rendered, previous: Rendered | None) -> Rendered:
    """Last-Modified is when this process first served these bytes, moving at
    least a second with every change: a feed's own `updated` ignores minor
    amendments and back-dated imports, which would answer 304 to a stale copy."""
    if previous is not None and previous.etag == fresh.etag:
        return replace(fresh, last_modified=previous.last_modified)
    now = datetime.now(UTC).replace(microsecond=0)
    if previous is not None:
        now = max(now, previous.last_modified + timedelta(seconds=1))
    return replace(fresh, last_modified=now)


def _expired(item: Rendered) -> bool:
    return item.expires_at is not None and time.time() >= item.expires_at


def conditional_response(
    item: Rendered, content_type: str, cache_control: str
) -> Response:
    """200 with the bytes, or 304 when the client's copy is current."""
    headers = {
        "ETag": item.etag,
        "Last-Modified": item.last_modified_http,
        "Cache-Control": cache_control,
    }
    if item.status == 200 and _not_modified(item):
        return Response(status=304, headers=headers)
    return Response(
        item.body, status=item.status, content_type=content_type, headers=headers
    )


def _not_modified(item: Rendered) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains_weak(item.etag.strip('"'))
    since = request.if_modified_since
    return since is not None and item.last_modified.replace(microsecond=0) <= since
