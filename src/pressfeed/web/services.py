"""What the blueprints use: the application, the views and the token registry."""

from __future__ import annotations

import time
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

POSITION_TTL = 0.01


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
    _position: int = field(init=False, default=0)
    _position_read_at: float = field(init=False, default=float("-inf"))

    def __post_init__(self) -> None:
        self.cache = RenderedCache(self.settings.render_cache_bytes)
        self.ledger = Ledger(self.press_office.recorder)
        self.audit = AuditTrail(self.press_office, self.ledger)

    def close(self) -> None:
        """Stops the worker and closes the connection pools."""
        if self.worker is not None:
            self.worker.stop()
        self.press_office.close()
        self.views.datastore.close()  # type: ignore[attr-defined]

    def views_position(self) -> int:
        """The views' position, read from the database at most every
        POSITION_TTL seconds: a cached feed then costs no query, and a change
        reaches readers at most that much later."""
        now = time.monotonic()
        if now - self._position_read_at > POSITION_TTL:
            self._read_position()
        return self._position

    def _read_position(self) -> int:
        self._position_read_at = time.monotonic()
        self._position = self.views.position(self.press_office.name)
        return self._position

    def command_recorded(self) -> None:
        """Tells an in-process projection worker to look at the log now."""
        if self.worker is not None:
            self.worker.wake()

    def views_lag(self) -> int:
        head = self.press_office.recorder.max_notification_id() or 0
        return max(0, head - self._read_position())

    def await_views(self, timeout: float = 1.0) -> None:
        """Waits briefly for the views to reach the log's head: read-your-writes."""
        deadline = time.monotonic() + timeout
        while self.views_lag() and time.monotonic() < deadline:
            self.command_recorded()
            time.sleep(0.01)


def services() -> Services:
    return current_app.extensions["pressfeed"]
