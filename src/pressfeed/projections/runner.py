"""Follows the event log and applies it to the views, in batches, exactly once.

The position always comes from the views' tracking table, never from memory,
so a crash, a restart, a second worker or a rebuild all resume correctly.
On PostgreSQL the worker wakes on the event store's NOTIFY; on SQLite (whose
recorder cannot subscribe) it polls the notification log every poll_interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError

from pressfeed.aggregates import FrontPage, Statement
from pressfeed.application import PressOffice
from pressfeed.projections.base import ReadModel

log = logging.getLogger(__name__)

STATEMENT_TOPIC_PREFIX = f"{Statement.__module__}:{Statement.__qualname__}."
FRONT_PAGE_TOPIC_PREFIX = f"{FrontPage.__module__}:{FrontPage.__qualname__}."
VIEWED_TOPICS = (STATEMENT_TOPIC_PREFIX, FRONT_PAGE_TOPIC_PREFIX)
REMEMBERED = 1_000  # statements a worker keeps as its last batches left them


class StatementMemory:
    """The statements as the worker's last batches left them, the most recent
    REMEMBERED of them; any other is read from the event store at the version
    asked for. A statement at a version is the same however it was made (its
    events never change), so a memory from a batch that was rolled back, or
    that another worker overtook, is never wrong: only unused."""

    def __init__(self, app: PressOffice, size: int = REMEMBERED) -> None:
        self.app = app
        self.size = size
        self._statements: OrderedDict[Any, Statement] = OrderedDict()

    def state_at(self, statement_id: Any, version: int) -> Statement:
        remembered = self._statements.get(statement_id)
        if remembered is not None and remembered.version == version:
            return remembered
        statement: Statement = self.app.repository.get(statement_id, version=version)
        return statement

    def remember(self, statements: Iterable[Statement]) -> None:
        for statement in statements:
            self._statements[statement.id] = statement
            self._statements.move_to_end(statement.id)
        while len(self._statements) > self.size:
            self._statements.popitem(last=False)


class ProjectionWorker:
    """Keeps the views up to date with the press office's event log."""

    def __init__(
        self,
        app: PressOffice,
        views: ReadModel,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.05,
        listen: bool = False,
        tracking_name: str | None = None,
    ) -> None:
        self.app = app
        # Whose position in the views' tracking table (a rebuild has its own).
        self.tracking_name = tracking_name or app.name
        self.listen = listen  # wake on the PostgreSQL event store's NOTIFY
        self.on_change: list[Callable[[], object]] = []  # after catching up
        self.on_batch: list[Callable[[], object]] = []  # after each committed batch
        self.on_tick: list[Callable[[], object]] = []  # after every look at the log
        self.views = views
        self.memory = StatementMemory(app)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def position(self) -> int:
        return self.views.position(self.tracking_name)

    def lag(self) -> int:
        """How many events of the log the views have not applied yet."""
        return max(0, self.app.recorder.max_notification_id() or 0) - self.position

    def read_batch(
        self, start: int, until: int | None = None
    ) -> tuple[list[tuple[int, Any]], int, int]:
        """The viewed events after position start (up to until), at most
        batch_size notifications; the last position they cover (start if none),
        and how many notifications that is."""
        notifications = self.app.recorder.select_notifications(
            start=start, limit=self.batch_size, stop=until, inclusive_of_start=False
        )
        events = [
            (n.id, self.app.mapper.to_domain_event(n))
            for n in notifications
            if n.topic.startswith(VIEWED_TOPICS)
        ]
        last = notifications[-1].id if notifications else start
        return events, last, len(notifications)

    def process_batch(self, until: int | None = None) -> int:
        """Applies the next batch (up to position until, if given); returns how
        many notifications it covered."""
        start = self.position
        if until is not None and start >= until:
            return 0
        events, last, covered = self.read_batch(start, until)
        if not covered:
            return 0
        try:
            applied = self.views.apply_batch(
                self.tracking_name, events, start, last, self.memory
            )
        except IntegrityError:
            applied = None
        if applied is None:
            # Routine with several workers on one store: another applied it.
            log.debug("The views moved past %s meanwhile; reading them again", start)
        else:
            for listener in self.on_batch:
                listener()
        return covered

    def catch_up(
        self, progress: Callable[[int], None] = lambda _: None, until: int | None = None
    ) -> int:
        """Applies everything recorded so far (or up to position until); returns
        how many notifications."""
        total = 0
        while count := self.process_batch(until):
            total += count
            progress(count)
        return total

    def wait_until(self, position: int, timeout: float = 5.0) -> bool:
        """Blocks until the views reached position (or timeout); True if reached."""
        deadline = time.monotonic() + timeout
        while self.position < position:
            if time.monotonic() > deadline:
                return False
            self.wake()
            time.sleep(0.01)
        return True

    # Running in the background

    def start(self) -> ProjectionWorker:
        self._thread = threading.Thread(
            target=self._run, name="pressfeed-projections", daemon=True
        )
        self._thread.start()
        if self.listen:
            threading.Thread(
                target=self._listen, name="pressfeed-listen", daemon=True
            ).start()
        return self

    def wake(self) -> None:
        """Asks the worker to look at the log now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processed = self.catch_up()
                for listener in self.on_tick:
                    listener()
                if processed:
                    for listener in self.on_change:
                        listener()
            except Exception as error:  # keep following; report on /healthz
                self.error = error
                log.exception("Projection batch failed; retrying")
                self._stop.wait(1.0)
                continue
            self.error = None
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def _listen(self) -> None:
        """Wakes the worker on each NOTIFY the PostgreSQL event store sends."""
        recorder: Any = self.app.recorder  # PostgreSQL's: a datastore and a channel
        datastore, channel = recorder.datastore, recorder.channel_name
        while not self._stop.is_set():
            try:
                params = {
                    k: v for k, v in datastore.pool.kwargs.items() if k != "row_factory"
                }
                with psycopg.connect(**params, autocommit=True) as conn:
                    conn.execute(
                        psycopg.sql.SQL("LISTEN {0}").format(
                            psycopg.sql.Identifier(channel)
                        )
                    )
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.wake()
            except psycopg.Error:
                log.exception("LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)
