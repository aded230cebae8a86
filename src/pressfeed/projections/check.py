"""``pressfeed verify --views``: the log replayed into a scratch copy of the
views, by the projections' own code, and every view row compared with it.

The scratch copy is a temporary SQLite file, or a temporary PostgreSQL schema
dropped afterwards; the live views are only read, in one snapshot (a read
transaction), so a running worker goes on undisturbed. The replay stops at the
position the live views track, so a worker that is behind is not taken for a
tampered view. Both sides are read in key order, a batch at a time, and merged:
memory stays bounded however long the log.

What is compared (``COMPARED``): every column of the tables that hold what the
public and the desk read (the catalogue, its tags and its counts, the public
changes, the archive, the schedule): the catalogue's version and Last-Modified
of each statement are also where the worker stands with it. Not compared, because it legitimately differs from a replay:
the tracking position (the replay is stopped at it), the public lists' stamp
(``pf_public_stamp``: it moves once per batch, so it depends on how the worker
happened to batch the log), the WebSub outbox (pings already sent are deleted,
failed ones carry attempts and retry times) and the schema bookkeeping. The
search index is compared by what it holds: on SQLite the text of each row
(which searches match and their snippets show), on PostgreSQL each row's
configuration, tsvector and the columns a search filters by.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from pressfeed.application import PressOffice
from pressfeed.config import Settings
from pressfeed.projections import (
    SCHEMA_VERSION,
    PostgresViews,
    SQLiteViews,
    archive,
    changes,
    views_for,
)
from pressfeed.projections.base import ReadModel
from pressfeed.projections.runner import ProjectionWorker
from pressfeed.projections.websub import WebSubOutboxView
from pressfeed.storage import Dialect, admin_connection

BATCH = 500
SHOWN = 60  # characters of each side shown around the first difference


@dataclass(frozen=True)
class Compared:
    """A view table: its key (in order, text keys marked), what is compared,
    and the column that names the statement a row is about."""

    table: str
    key: tuple[str, ...]
    text_key: tuple[bool, ...]
    columns: tuple[str, ...]
    statement: str
    # A SELECT read instead of the table, per database ({t}: the table, {c}:
    # the catalogue), for a table whose rows say their statement through it.
    sqlite_rows: str | None = None
    postgres_rows: str | None = None

    def source(self, dialect: Dialect) -> str:
        """What the rows are read from: the table, or its SELECT."""
        rows = self.postgres_rows if dialect.postgres else self.sqlite_rows
        if rows is None:
            return dialect.sql("{t}", t=self.table)
        return f"({dialect.sql(rows, t=self.table, c='pf_catalogue')}) AS compared"


def changes_compared(table: str) -> Compared:
    """The public changes, as stored or as read."""
    return Compared(
        table, ("position",), (False,), changes.READ_COLUMNS[1:], "statement_id"
    )


def archive_compared(table: str) -> Compared:
    """The archive's entries, as stored or as read."""
    return Compared(
        table,
        ("language", "seq"),
        (True, False),
        archive.READ_COLUMNS[2:],
        "statement_id",
    )


COMPARED = (
    Compared(
        "pf_catalogue",
        ("id",),
        (True,),
        (
            "slug",
            "kind",
            "language",
            "translation_group",
            "speaker",
            "status",
            "created_position",
            "published_us",
            "retracted_us",
            "changed_us",
            "modified_us",
            "version",
            "document",
        ),
        "id",
    ),
    Compared(
        "pf_catalogue_tags",
        ("statement_id", "tag"),
        (True, True),
        ("changed_us",),
        "statement_id",
    ),
    changes_compared(changes.TABLE),
    archive_compared(archive.TABLE),
    # What readers read of those two (View.readings): a forged SQL view would
    # change it while the tables still compare equal.
    changes_compared(changes.READ),
    archive_compared(archive.READ),
    Compared(
        "pf_schedule", ("statement_id",), (True,), ("publish_at_us",), "statement_id"
    ),
    Compared(
        "pf_translation_group_stamps",
        ("translation_group",),
        (True,),
        ("stamp_us",),
        "translation_group",  # a group's row is about no one statement
    ),
    Compared("pf_front_page", ("id",), (False,), ("statement_id", "changed_us"), "id"),
    Compared(
        "pf_catalogue_counts",
        ("zone", "language", "kind", "status", "year", "month"),
        (True, True, True, True, False, False),
        ("n",),
        "kind",  # a count row is about no one statement
    ),
    Compared(
        "pf_search",
        ("id",),
        (True,),
        ("indexed",),
        "id",
        # FTS5 rows are the catalogue rows' (by rowid); what a search matches
        # and shows as its snippet is their text.
        sqlite_rows="SELECT c.id AS id, json_array(s.title, s.summary, s.body, "
        "s.tags, s.stems) AS indexed FROM {t} s JOIN {c} c ON c.rowid = s.rowid",
        postgres_rows="SELECT id, concat_ws(' | ', config, document::text, "
        "position, status, kind, published_us) AS indexed FROM {t}",
    ),
)


@dataclass(frozen=True)
class Difference:
    """One view row that is not what the replay made of the log."""

    table: str
    key: tuple[Any, ...]
    statement: str
    column: str  # "row" when the row is on one side only
    live: str
    replayed: str

    def line(self) -> str:
        key = ", ".join(str(k) for k in self.key)
        return (
            f"{self.table} [{key}] statement {self.statement}: {self.column} "
            f"live {self.live} replayed {self.replayed}"
        )


@dataclass
class ViewCheck:
    """The outcome: how far the views were compared and what differed."""

    position: int = 0
    rows: int = 0
    differences: int = 0

    @property
    def ok(self) -> bool:
        return self.differences == 0


class ViewsMoved(RuntimeError):
    """The live views went back (a rebuild) while they were being checked."""


def check_views(
    settings: Settings,
    app: PressOffice,
    live: ReadModel,
    report: Callable[[Difference], None],
    batch_size: int = BATCH,
) -> ViewCheck:
    """Replays the log into scratch views up to the live views' position and
    reports each row that differs; returns the counts."""
    with scratch_views(settings) as scratch:
        worker = ProjectionWorker(app, scratch, batch_size=batch_size)
        worker.catch_up(until=live.position(app.name))  # most of it, unlocked
        with snapshot(live) as live_cursor:
            position = tracked_position(live_cursor, live, app.name)
            if position < worker.position:
                raise ViewsMoved(
                    f"The views went back to position {position} while being "
                    "checked (a rebuild?); run verify --views again."
                )
            worker.catch_up(until=position)
            outcome = ViewCheck(position=position)
            with scratch.cursor() as scratch_cursor:
                for spec in COMPARED:
                    for difference in compare_table(
                        spec,
                        live_cursor,
                        live.dialect,
                        scratch_cursor,
                        scratch.dialect,
                        outcome,
                        batch_size,
                    ):
                        outcome.differences += 1
                        report(difference)
            return outcome


@contextmanager
def scratch_views(settings: Settings) -> Iterator[ReadModel]:
    """Empty views beside nothing live: a temporary SQLite file, or (PostgreSQL)
    a temporary schema in the same database, dropped afterwards."""
    env = settings.eventsourcing_env()
    if not settings.uses_postgres:
        folder = Path(tempfile.mkdtemp(prefix="pressfeed-verify-"))
        env = {**env, "SQLITE_DBNAME": str(folder / "views.db")}
        try:
            yield from _open_scratch(env, SQLiteViews, settings)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"pf_verify_{secrets.token_hex(6)}"
    with admin_connection(env) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield from _open_scratch(
            {**env, "POSTGRES_SCHEMA": schema}, PostgresViews, settings
        )
    finally:
        with admin_connection(env) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _open_scratch(
    env: dict[str, str], view_class: type, settings: Settings
) -> Iterator[ReadModel]:
    factory = InfrastructureFactory.construct(Environment("views", env))
    views = cast(ReadModel, factory.tracking_recorder(view_class))
    views.views = tuple(
        v for v in views_for(settings) if not isinstance(v, WebSubOutboxView)
    )
    views.ensure_schema(PressOffice.name, SCHEMA_VERSION)
    try:
        yield views
    finally:
        views.datastore.close()


@contextmanager
def snapshot(views: ReadModel) -> Iterator[Any]:
    """A read-only transaction on the live views that sees one moment: SQLite's
    read transaction (WAL: writers go on), PostgreSQL's REPEATABLE READ."""
    with views.cursor() as cursor:
        if views.dialect.postgres:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield cursor


def tracked_position(cursor: Any, views: ReadModel, application_name: str) -> int:
    cursor.execute(
        views.dialect.sql(
            "SELECT notification_id FROM {t} WHERE application_name = ?",
            t=views.tracking_table,
        ),
        (application_name,),
    )
    row = cursor.fetchone()
    return int(row["notification_id"]) if row else 0


def rows_in_key_order(
    cursor: Any, dialect: Dialect, spec: Compared, batch_size: int
) -> Iterator[dict[str, Any]]:
    """Every row of a table in key order (code point order for text on both
    databases), a batch at a time."""
    collate = ' COLLATE "C"' if dialect.postgres else ""
    keys = [
        f"{column}{collate if text else ''}"
        for column, text in zip(spec.key, spec.text_key, strict=True)
    ]
    columns = ", ".join(dict.fromkeys((*spec.key, *spec.columns, spec.statement)))
    after: tuple[Any, ...] | None = None
    while True:
        where = ""
        if after is not None:
            where = f"WHERE ({', '.join(keys)}) > ({', '.join('?' * len(keys))}) "
        query = (
            f"SELECT {columns} FROM {spec.source(dialect)} {where}"
            f"ORDER BY {', '.join(keys)} LIMIT {int(batch_size)}"
        )
        cursor.execute(
            query.replace("?", "%s") if dialect.postgres else query, after or ()
        )
        rows = [dict(row) for row in cursor.fetchall()]
        yield from rows
        if len(rows) < batch_size:
            return
        after = tuple(rows[-1][k] for k in spec.key)


def compare_table(
    spec: Compared,
    live_cursor: Any,
    live_dialect: Dialect,
    scratch_cursor: Any,
    scratch_dialect: Dialect,
    outcome: ViewCheck,
    batch_size: int,
) -> Iterator[Difference]:
    """Merges the live and replayed rows of a table by key, yielding differences."""
    live_rows = rows_in_key_order(live_cursor, live_dialect, spec, batch_size)
    replayed_rows = rows_in_key_order(scratch_cursor, scratch_dialect, spec, batch_size)
    live, replayed = next(live_rows, None), next(replayed_rows, None)
    while live is not None or replayed is not None:
        live_key = key_of(live, spec)
        replayed_key = key_of(replayed, spec)
        if replayed is None or (live is not None and live_key < replayed_key):
            assert live is not None
            yield one_sided(spec, live, "present", "missing")
            live = next(live_rows, None)
        elif live is None or replayed_key < live_key:
            yield one_sided(spec, replayed, "missing", "present")
            replayed = next(replayed_rows, None)
        else:
            outcome.rows += 1
            yield from differing_columns(spec, live, replayed)
            live, replayed = next(live_rows, None), next(replayed_rows, None)


def key_of(row: dict[str, Any] | None, spec: Compared) -> tuple[Any, ...]:
    return () if row is None else tuple(row[k] for k in spec.key)


def one_sided(
    spec: Compared, row: dict[str, Any], live: str, replayed: str
) -> Difference:
    return Difference(
        spec.table, key_of(row, spec), str(row[spec.statement]), "row", live, replayed
    )


def differing_columns(
    spec: Compared,
    live: dict[str, Any],
    replayed: dict[str, Any],
) -> Iterator[Difference]:
    for column in spec.columns:
        mine, theirs = live[column], replayed[column]
        if mine != theirs:
            shown_live, shown_replayed = shorten(repr(mine), repr(theirs))
            yield Difference(
                spec.table,
                key_of(live, spec),
                str(live[spec.statement]),
                column,
                shown_live,
                shown_replayed,
            )


def shorten(first: str, second: str) -> tuple[str, str]:
    """Both texts cut to SHOWN characters around where they first differ."""
    at = next(
        (i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b),
        min(len(first), len(second)),
    )
    start = max(0, at - SHOWN // 3)

    def cut(text: str) -> str:
        piece = text[start : start + SHOWN]
        before = "…" if start > 0 else ""
        after = "…" if start + SHOWN < len(text) else ""
        return f"{before}{piece}{after}"

    return cut(first), cut(second)
