"""pressfeed put together from its settings: the application, the views, the
ledger, the audit trail and the token registry, and the background work (the
projection worker, the WebSub pinger and the embargo scheduler).

The web app, ``pressfeed serve``, ``pressfeed worker`` and every other command
build pressfeed here, and only here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from pressfeed.application import PressOffice
from pressfeed.audit import AuditTrail
from pressfeed.checkpoints import Checkpointer
from pressfeed.config import Settings
from pressfeed.ledger import Ledger, StoredCheckpoint
from pressfeed.people import PeopleRegistry
from pressfeed.projections import open_views
from pressfeed.projections.base import ReadModel, ViewsOutdated
from pressfeed.projections.rebuild import rebuild_in_shadow, vacuum_views
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.scheduler import EmbargoScheduler
from pressfeed.storage import (
    create_health_table,
    rebuild_lock,
    schema_lock,
    tables_of,
    write_heartbeat,
)
from pressfeed.tokens import TokenRegistry
from pressfeed.websub import HubPinger

log = logging.getLogger(__name__)

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

    def recent(self) -> int | None:
        """The position if read within the TTL, else None (never reads)."""
        with self._lock:
            value, read_at = self._value, self._read_at
        return value if time.monotonic() - read_at <= self._ttl else None

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


class Pressfeed:
    """One press office's pressfeed on the configured store. The parts other
    than the application open on first use, so a command that needs only the
    log (export, verify) never touches the views."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        with schema_lock(settings):
            self.press_office = PressOffice(
                env=settings.eventsourcing_env(),
                kinds=settings.kinds,
                languages=settings.languages,
                second_pair_of_eyes=settings.second_pair_of_eyes,
            )
        if self.ledger.tree_is_behind():  # a store made before the Merkle tree
            recorder: Any = self.press_office.recorder  # a ledger.Chained* recorder
            recorder.catch_up_tree()
        self.position = RecentPosition(
            lambda: self.views.position(self.press_office.name)
        )
        self._health_table = False  # created on the first readiness check
        self.worker: ProjectionWorker | None = None
        self.pinger: HubPinger | None = None
        self.scheduler: EmbargoScheduler | None = None

    @cached_property
    def views(self) -> ReadModel:
        """The views; if they hold an older layout, it keeps serving (to the
        processes of the older version) while this one rebuilds them in shadow.
        ViewsOutdated if a newer version built them: going back is an
        operator's decision (`pressfeed rebuild`), never a process's start."""
        with schema_lock(self.settings):
            views = open_views(self.settings)
        if views.layout_is_newer():
            raise ViewsOutdated(views.schema_version, views.stored_layout())
        if not views.layout_is_current():
            with rebuild_lock(self.settings):
                if not views.layout_is_current():  # not rebuilt meanwhile
                    log.warning("The views have an older layout: rebuilding them")
                    rebuild_in_shadow(self.press_office, views)
        return views

    def rebuild_views(self, progress: Callable[[int], None] = lambda _: None) -> int:
        """Rebuilds the views in shadow and swaps them in, then catches them up
        with the log; returns how many notifications were replayed."""
        with schema_lock(self.settings):
            views = open_views(self.settings)
        # Not self.views: on an older layout it would wait for this very lock.
        with rebuild_lock(self.settings):
            replayed = rebuild_in_shadow(self.press_office, views, progress=progress)
        self.views = views
        replayed += self.projection_worker(batch_size=1000).catch_up(progress)
        vacuum_views(views)
        return replayed

    @cached_property
    def tokens(self) -> TokenRegistry:
        with schema_lock(self.settings):
            return TokenRegistry(tables_of(self.press_office.recorder))

    @cached_property
    def people(self) -> PeopleRegistry:
        with schema_lock(self.settings):
            return PeopleRegistry(tables_of(self.press_office.recorder))

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.press_office.recorder)

    @cached_property
    def checkpoints(self) -> Checkpointer:
        """Signs the tree's root at most every PRESSFEED_CHECKPOINT_SECONDS."""
        tree = self.ledger.tree

        def tree_head() -> tuple[int, bytes]:
            size = tree.size()
            return size, tree.root(size)

        return Checkpointer(
            tree_head,
            self.settings.signing_key_path,
            self.settings.log_origin,  # else the key's name: one name, whatever the port
            self.settings.checkpoint_interval,
            StoredCheckpoint(self.ledger.tables),
        )

    @cached_property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.press_office, self.ledger)

    # Background work

    def projection_worker(self, batch_size: int = 500) -> ProjectionWorker:
        """A worker that follows the log into the views, as configured."""
        return ProjectionWorker(
            self.press_office,
            self.views,
            batch_size=batch_size,
            poll_interval=self.settings.poll_interval,
            listen=self.settings.uses_postgres,
        )

    def attach_worker(self, worker: ProjectionWorker) -> ProjectionWorker:
        """Runs the projections in this process; each batch refreshes the position,
        and with WebSub hubs each look at the log sends the pings that are due."""
        worker.on_batch.append(self.position.forget)
        if self.settings.websub_hubs:
            self.pinger = HubPinger(
                self.views,
                self.settings.websub_hubs,
                self.settings.base_url,
                other_languages=self.settings.other_languages,
            )
            worker.on_tick.append(self.pinger.send_due)
        self.worker = worker
        return worker

    def start_background(self) -> None:
        """Starts the projection worker, the pinger and the embargo scheduler."""
        worker = self.attach_worker(self.projection_worker())
        self.scheduler = EmbargoScheduler(self.press_office, self.views)
        worker.on_change.append(self.scheduler.sync)
        self.scheduler.start()
        worker.start()

    def stop_background(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.scheduler is not None:
            self.scheduler.stop()

    def close(self) -> None:
        """Stops the background work and closes the connection pools."""
        self.stop_background()
        self.press_office.close()
        if "views" in self.__dict__:
            self.views.datastore.close()

    # Reading the views' position

    def views_position(self) -> int:
        return self.position.get()

    def recent_views_position(self) -> int | None:
        """The views' position if read lately (see RecentPosition.recent)."""
        return self.position.recent()

    def command_recorded(self) -> None:
        """Tells an in-process projection worker to look at the log now."""
        if self.worker is not None:
            self.worker.wake()

    def views_lag(self) -> int:
        head = self.press_office.recorder.max_notification_id() or 0
        return max(0, head - self.position.refresh())

    def check_writable(self) -> None:
        """Commits a one-row write to the event store's database (its table is
        created on first use); raises what the store says if it refuses."""
        tables = tables_of(self.press_office.recorder)
        if not self._health_table:
            with schema_lock(self.settings):
                create_health_table(tables)
            self._health_table = True
        write_heartbeat(tables)

    def views_catch_up(self, timeout: float = 1.0) -> int:
        """Waits up to timeout for the views to reach the log's head as it is
        now; returns how far behind that head they still are."""
        head = self.press_office.recorder.max_notification_id() or 0
        deadline = time.monotonic() + timeout
        while (behind := head - self.position.refresh()) > 0:
            if time.monotonic() > deadline:
                return behind
            self.command_recorded()
            time.sleep(0.01)
        return 0

    def await_views(self, timeout: float = 1.0) -> None:
        """Waits briefly for the views to reach the log's head: read-your-writes."""
        deadline = time.monotonic() + timeout
        while self.views_lag() and time.monotonic() < deadline:
            self.command_recorded()
            time.sleep(0.01)
