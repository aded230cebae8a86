"""Publishes embargoed statements when due: on time, never early, never missed,
never twice.

The jobs are not a store of their own: they mirror the schedule view (itself a
projection of the events) and are re-synchronised whenever the views move, so
rescheduling or cancelling moves or removes the job at once. A job whose time
passed while nothing ran (downtime) fires as soon as the scheduler starts.
Several schedulers may run: the event store's version check lets only one
publication through, and the others find nothing to do.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from pressfeed.aggregates import EmbargoNotDue, HeldForReview
from pressfeed.application import PressOffice
from pressfeed.projections.base import ReadModel
from pressfeed.projections.schedule import scheduled_statements

log = logging.getLogger(__name__)
# APScheduler logs two INFO lines per job run (the resync every RESYNC_SECONDS
# among them) and one per job added or removed. An operator needs what this
# module logs (each publication, how late, each failure) and APScheduler's
# warnings and errors (a missed run, a job that raised), not its routine.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

ACTOR = "scheduler"
RESYNC_SECONDS = 30


class EmbargoScheduler:
    def __init__(self, app: PressOffice, views: ReadModel) -> None:
        self.app = app
        self.views = views
        self._sync_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={
                "misfire_grace_time": None,
                "coalesce": True,
                "max_instances": 1,
            },
        )

    def start(self) -> EmbargoScheduler:
        self.scheduler.start()
        self.sync()
        log.info(
            "Scheduler started: %d statements wait for their embargo",
            len(self.scheduler.get_jobs()),
        )
        # A safety net besides the worker's nudges: a failed sync or a job that
        # could not be re-added is repaired within this interval.
        self.scheduler.add_job(
            self._resync, "interval", seconds=RESYNC_SECONDS, id="resync"
        )
        return self

    def _resync(self) -> None:
        try:
            self.sync()
        except Exception:
            log.exception("Could not read the schedule; trying again later")

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def sync(self) -> None:
        """Makes the jobs equal the schedule view: add, move, remove."""
        with self._sync_lock:
            wanted = scheduled_statements(self.views)
            jobs = {
                job.id: job for job in self.scheduler.get_jobs() if job.id != "resync"
            }
            for statement_id, publish_at in wanted.items():
                job = jobs.get(str(statement_id))
                if job is not None and job.args[1] == publish_at:  # retries keep theirs
                    continue
                self.scheduler.add_job(
                    self.publish,
                    trigger="date",
                    run_date=publish_at,
                    args=(statement_id, publish_at),
                    id=str(statement_id),
                    replace_existing=True,
                )
            for job_id in jobs.keys() - {str(i) for i in wanted}:
                with contextlib.suppress(JobLookupError):  # it has just run
                    self.scheduler.remove_job(job_id)

    def publish(
        self, statement_id: UUID, planned_at: datetime, attempt: int = 0
    ) -> None:
        """The job: publishes the statement if it is still due at planned_at. A
        failure (a locked or unreachable store) is retried with back-off, never
        dropped."""
        while True:
            try:
                result = self.app.publish_embargoed(
                    statement_id, planned_at=planned_at, actor=ACTOR
                )
            except EmbargoNotDue:
                time.sleep(max(0.001, (planned_at - self.app.clock()).total_seconds()))
                continue
            except HeldForReview:
                log.warning(
                    "Held %s at its embargo of %s: its text changed after it was "
                    "approved, and waits for a publisher to approve it again",
                    statement_id,
                    planned_at.isoformat(),
                )
                return
            except Exception:
                delay = min(2**attempt, 60)
                log.exception(
                    "Publishing %s failed; retrying in %s s", statement_id, delay
                )
                self.scheduler.add_job(
                    self.publish,
                    trigger="date",
                    run_date=datetime.now(UTC) + timedelta(seconds=delay),
                    args=(statement_id, planned_at, attempt + 1),
                    id=str(statement_id),
                    replace_existing=True,
                )
                return
            break
        if result is None:
            log.debug(  # routine beside another worker: its scheduler was first
                "Nothing to publish for %s (done elsewhere or changed)", statement_id
            )
            return
        published_at = result.statement.published_at or planned_at
        late = (published_at - planned_at).total_seconds()
        level = logging.WARNING if late > 1 else logging.INFO
        log.log(
            level,
            "Published %s %.3f s after its embargo of %s",
            statement_id,
            late,
            planned_at.isoformat(),
        )
