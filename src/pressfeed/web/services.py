"""What the blueprints use: the application, the views and the token registry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from pressfeed.application import PressOffice
from pressfeed.audit import AuditTrail
from pressfeed.config import Settings
from pressfeed.ledger import Ledger
from pressfeed.projections.base import ReadModel
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.tokens import TokenRegistry
from pressfeed.web.caching import RenderedCache

POSITION_TTL = 0.01  # seconds a read of the views' position is reused


class RecentPosition:
    """The views' position as last read, reused for POSITION_TTL seconds: a
    cached feed then costs no query, and a change reaches readers at most that
    much later. A read that began before a newer one, or before forget(), is
    not kept."""

    def __init__(self, read: Callable[[], int], ttl: float = POSITION_TTL) -> None:
        self._read, self._ttl = read, ttl
        self._lock = threading.Lock()
        self._value, self._read_at, self._generation = 0, float("-inf"), 0

    def get(self) -> int:
        if time.monotonic() - self._read_at > self._ttl:
            return self.refresh()
        return self._value

    def refresh(self) -> int:
        with self._lock:
            generation = self._generation
        started = time.monotonic()
        value = self._read()
        with self._lock:
            if generation == self._generation and started >= self._read_at:
                self._value, self._read_at = value, started
        return value

    def forget(self) -> None:
        """The views moved (an in-process worker applied a batch): read again."""
        with self._lock:
            self._generation += 1
            self._read_at = float("-inf")


@dataclass
class Services:
    settings: Settings
    press_office: PressOffice
    views: ReadModel
    tokens: TokenRegistry
    worker: ProjectionWorker | None = field(default=None)
    cache: RenderedCache = field(init=False)
    ledger: Ledger = field(init=False)
    audit: AuditTrail = field(init=False)
    position: RecentPosition = field(init=False)

    def __post_init__(self) -> None:
        self.cache = RenderedCache(self.settings.render_cache_bytes)
        self.position = RecentPosition(
            lambda: self.views.position(self.press_office.name)
        )
        self.ledger = Ledger(self.press_office.recorder)
        self.audit = AuditTrail(self.press_office, self.ledger)

    def close(self) -> None:
        """Stops the worker and closes the connection pools."""
        if self.worker is not None:
            self.worker.stop()
        self.press_office.close()
        self.views.datastore.close()  # type: ignore[attr-defined]

    def attach_worker(self, worker: ProjectionWorker) -> None:
        """Runs the projections in this process; each batch refreshes the position."""
        worker.on_batch.append(self.position.forget)
        self.worker = worker

    def views_position(self) -> int:
        return self.position.get()

    def command_recorded(self) -> None:
        """Tells an in-process projection worker to look at the log now."""
        if self.worker is not None:
            self.worker.wake()

    def views_lag(self) -> int:
        head = self.press_office.recorder.max_notification_id() or 0
        return max(0, head - self.position.refresh())

    def await_views(self, timeout: float = 1.0) -> None:
        """Waits briefly for the views to reach the log's head: read-your-writes."""
        deadline = time.monotonic() + timeout
        while self.views_lag() and time.monotonic() < deadline:
            self.command_recorded()
            time.sleep(0.01)


def services() -> Services:
    return current_app.extensions["pressfeed"]
