"""Rebuilding the views without downtime.

New views are replayed from the log into shadow tables beside the live ones
(``pf_catalogue__rebuild``…), while the live ones keep serving and their worker
keeps them current. When the shadow has nearly caught up with the live views,
one transaction holds the live position's lock, applies the last events to the
shadow, renames the live tables away and the shadow's into their names, and
records the layout. Readers see the old views or the new ones, never an empty
or a partial site. The old tables are dropped afterwards.

The WebSub outbox is a queue of pings still to send, not a picture of the log:
it is never replayed (that would ping the hubs for every past change) and is
kept across the swap.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import psycopg

from pressfeed.application import PressOffice
from pressfeed.projections.base import SHADOW_SUFFIX, ReadModel
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.projections.websub import WebSubOutboxView
from pressfeed.storage import table_exists, vacuum_analyse

log = logging.getLogger(__name__)

RETIRED_SUFFIX = "__retired"  # the live tables a swap replaced, until dropped
TRACKING_SUFFIX = ".rebuild"  # the shadow's row in the tracking table
SWAP_LOCK_TIMEOUT = "2s"
SWAP_ATTEMPTS = 10


class RebuildBlocked(RuntimeError):
    """Long readers kept the live views locked; nothing was swapped."""


def rebuild_in_shadow(
    app: PressOffice,
    views: ReadModel,
    *,
    batch_size: int = 1000,
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Replays the log into new views and swaps them in for the live ones, at
    the live views' position; returns how many notifications were replayed.
    Callers hold the rebuild lock (storage.rebuild_lock): one rebuild at a time."""
    name = app.name + TRACKING_SUFFIX
    shadow = _shadow(views, name)
    worker = ProjectionWorker(app, shadow, batch_size=batch_size, tracking_name=name)
    replayed = 0
    while True:  # follow the live views until one batch or less remains
        live = views.position(app.name)
        replayed += worker.catch_up(progress, until=live)
        if views.position(app.name) - worker.position <= batch_size:
            break
    replayed += _swap_when_unblocked(app, views, shadow, worker)
    _drop_retired(views)
    return replayed


def vacuum_views(views: ReadModel) -> None:
    """The rebuilt tables' statistics and visibility map (vacuum_analyse), once
    they are whole: statistics taken of nearly empty tables would keep the
    plans of a worker filling them on sequential scans."""
    vacuum_analyse(views.tables, views.view_tables)


def _swap_when_unblocked(
    app: PressOffice, views: ReadModel, shadow: ReadModel, worker: ProjectionWorker
) -> int:
    """Swaps, retrying while a long reader holds a live table (PostgreSQL):
    a rename waiting for its lock would queue every reader behind it, so the
    swap waits at most SWAP_LOCK_TIMEOUT at a time instead."""
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            return _swap(app, views, shadow, worker)
        except Exception as error:
            if not _lock_timed_out(error):
                raise
            log.warning(
                "A reader held the views; swap attempt %s of %s", attempt, SWAP_ATTEMPTS
            )
            time.sleep(attempt)
    raise RebuildBlocked(
        f"Readers held the views through {SWAP_ATTEMPTS} attempts to swap the "
        "rebuilt ones in; the live views are unchanged. Run the rebuild again."
    )


def _shadow(views: ReadModel, name: str) -> ReadModel:
    """The shadow views to replay into: those an interrupted rebuild to the
    same layout left, to go on from where it stopped (a process killed
    mid-rebuild, say by gunicorn's boot timeout, loses nothing); else new
    empty ones at the start of the log, after dropping any leftovers."""
    d = views.dialect
    with views.cursor(commit=True) as c:
        views.lock_position(c, name)  # one transaction at a time decides
        views.drop_renamed_readings(c, RETIRED_SUFFIX)
        for table in views.view_tables:
            c.execute(d.sql("DROP TABLE IF EXISTS {t}", t=table + RETIRED_SUFFIX))
        views.drop_former_tables(c, RETIRED_SUFFIX)
        c.execute(d.sql("SELECT value FROM {m} WHERE name = 'rebuild'", m=views.META))
        row = c.fetchone()
        layout, _, token = (row["value"] if row else "").partition(":")
        if layout == str(views.schema_version):
            return _without_outbox(views.shadow(token))
        shadow = _without_outbox(views.shadow(secrets.token_hex(4)))
        for table in views.view_tables:
            c.execute(d.sql("DROP TABLE IF EXISTS {t}", t=table + SHADOW_SUFFIX))
        views.drop_former_tables(c, SHADOW_SUFFIX)  # an older layout's rebuild
        for statement in shadow.read_model_statements():
            c.execute(statement)
        shadow.rewind(c, name)
        _record_rebuild(c, views, f"{views.schema_version}:{_token_of(shadow)}")
        return shadow


def _without_outbox(shadow: ReadModel) -> ReadModel:
    shadow.views = tuple(v for v in shadow.views if not isinstance(v, WebSubOutboxView))
    return shadow


def _token_of(shadow: ReadModel) -> str:
    return shadow.dialect.index_suffix.removeprefix("_")


def _record_rebuild(c: Any, views: ReadModel, value: str | None) -> None:
    """Notes (or with None, forgets) the layout and token a rebuild writes."""
    d = views.dialect
    c.execute(d.sql("DELETE FROM {m} WHERE name = 'rebuild'", m=views.META))
    if value is not None:
        c.execute(
            d.sql("INSERT INTO {m} (name, value) VALUES ('rebuild', ?)", m=views.META),
            (value,),
        )


def _lock_timed_out(error: BaseException | None) -> bool:
    """Whether error, or one it was raised from, is PostgreSQL's lock_timeout
    (eventsourcing wraps psycopg's errors in its own)."""
    while error is not None:
        if isinstance(error, psycopg.errors.LockNotAvailable):
            return True
        error = error.__cause__
    return False


def _swap(
    app: PressOffice, views: ReadModel, shadow: ReadModel, worker: ProjectionWorker
) -> int:
    """In one transaction: the shadow catches up with the live position (whose
    lock stops the live worker meanwhile), then takes the live tables' names.
    Returns how many notifications it applied on the way."""
    name, applied = worker.tracking_name, 0
    with views.cursor(commit=True) as c:
        if views.dialect.postgres:
            c.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
        live = views.lock_position(c, app.name)
        at = shadow.lock_position(c, name)
        while at < live:
            events, last, covered = worker.read_batch(at, until=live)
            if not covered:
                break
            shadow.apply_in(c, name, events, last, worker.memory)
            applied, at = applied + covered, last
        stamps = [s for s in (views.stamp_in(c), shadow.stamp_in(c)) if s is not None]
        views.drop_readings(c)  # they name the live tables
        for table in shadow.view_tables:
            _rename(c, views, table, table + RETIRED_SUFFIX)
            _rename(c, views, table + SHADOW_SUFFIX, table)
        for table in views.FORMER_TABLES:  # its SQL views of these names are gone
            _rename(c, views, table, table + RETIRED_SUFFIX)
        views.create_readings(c)
        if stamps:  # never earlier than a Last-Modified already sent
            views.set_public_stamp(c, max(stamps))
        for view in views.views:
            if view not in shadow.views:  # kept, not rebuilt; made if missing
                for statement in view.create_statements(views.dialect):
                    c.execute(statement)
        views.record_schema(c, views.schema_version)
        views.forget_position(c, name)
        _record_rebuild(c, views, None)
    log.info("Swapped in the rebuilt views at position %s", live)
    return applied


def _rename(c: Any, views: ReadModel, table: str, new_name: str) -> None:
    d = views.dialect
    if table_exists(c, d, table):
        c.execute(d.sql(f'ALTER TABLE {{t}} RENAME TO "{new_name}"', t=table))


def _drop_retired(views: ReadModel) -> None:
    """Drops the replaced tables, one per transaction (on SQLite a drop holds
    the write lock while it frees the table's pages)."""
    with views.cursor(commit=True) as c:
        views.drop_renamed_readings(c, RETIRED_SUFFIX)
    for table in views.view_tables:
        views.execute("DROP TABLE IF EXISTS {t}", t=table + RETIRED_SUFFIX)
    with views.cursor(commit=True) as c:
        views.drop_former_tables(c, RETIRED_SUFFIX)
