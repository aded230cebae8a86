"""The machinery every view shares: tables beside the event store, updated from the
event log in batches, each batch in one transaction with its tracking position.

A view is a small class with its tables and an ``apply`` for one change. Each
view sees an event together with the statement before and after it: the
catalogue records the version (and Last-Modified) the views hold of every
statement, and the worker's ``StatementMemory`` gives the statement at that
version, from memory or from the event store. The same SQL runs on SQLite and
PostgreSQL: it is written with ``?`` placeholders and ``{table}`` names, which
``Dialect`` adapts.
"""

from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder

from pressfeed.aggregates import FrontPage, Statement
from pressfeed.representation import (
    StatementDocument,
    statement_document,
    with_body_html,
)
from pressfeed.storage import Dialect, Tables, relation_kind
from pressfeed.times import EPOCH, from_micros, iso, micros


@dataclass(frozen=True)
class Change:
    """One event applied to one statement, at its position in the log."""

    position: int
    event: Statement.Event
    before: Statement | None
    after: Statement
    last_modified_us: int  # the statement's Last-Modified after it (see next_stamp)

    @property
    def shows_in_public(self) -> bool:
        return shows_in_public(self.event, self.before, self.after)

    @cached_property
    def document(self) -> str:
        """The statement after the change as view JSON, made once for every view."""
        document = statement_document(self.after, html=False)
        document["last_modified"] = iso(from_micros(self.last_modified_us))
        return json_dumps(document)


SECOND_US = 1_000_000


def shows_in_public(event: Any, before: Statement | None, after: Statement) -> bool:
    """Whether readers see this change of a statement: any change once it was
    public, but its joining a group of translations (a page links only the
    published translations, whose own publication dates the group's pages; a
    draft or embargoed translation must not move a public date)."""
    if not after.was_public:
        return False
    joined = isinstance(event, Statement.LinkedToTranslations)
    return not (joined and before is not None and before.was_public)


SHADOW_SUFFIX = "__rebuild"  # the tables of views being rebuilt
# One row per statement, of any status (catalogue.py): its version and
# Last-Modified are where the views stand with it.
CATALOGUE = "pf_catalogue"


def next_stamp(previous_us: int | None, recorded_us: int) -> int:
    """A Last-Modified after a public change: when it was recorded, but in a
    later whole second than the one before, so that HTTP's second-grained dates
    (If-Modified-Since) still tell two versions apart. Kept in the views, so
    every process dates the same bytes alike, and a replay dates them the same.

    A burst of changes would push the stamp ever further ahead of the clock;
    once it is two seconds ahead, the next change shares it instead. That is
    safe because a Last-Modified is never sent before its time comes (see
    web/caching.py), and by then the version sharing it has replaced the one
    before."""
    if previous_us is None or recorded_us // SECOND_US > previous_us // SECOND_US:
        return recorded_us
    if previous_us // SECOND_US >= recorded_us // SECOND_US + 2:
        return previous_us
    return (previous_us // SECOND_US + 1) * SECOND_US


class View(ABC):
    """A materialised view: its tables, and how one change updates them."""

    tables: tuple[str, ...] = ()

    @abstractmethod
    def create_statements(self, dialect: Dialect) -> list[str]:
        """CREATE TABLE / INDEX statements, idempotent."""

    def readings(self, dialect: Dialect) -> dict[str, str]:
        """SQL views over the view's tables, by name: the SELECT each stands
        for. Readers read them; only the live tables have them."""
        return {}

    def apply(self, cursor: Any, dialect: Dialect, change: Change) -> None:  # noqa: B027
        """Updates the view's tables for one change, inside the batch transaction."""

    def apply_final(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:  # noqa: B027
        """Once per batch, after every change: for views of current state, which
        need each statement written once, not once per event."""

    def apply_front_page(self, cursor: Any, dialect: Dialect, event: Any) -> None:  # noqa: B027
        """Updates the view for one event of the front page (featuring)."""


@dataclass(frozen=True)
class BatchOutcome:
    """The statements a batch changed, as they now stand, and where the ones it
    created were created."""

    statements: dict[Any, Statement]
    created_at: dict[Any, int]
    changes: list[Change]
    last_change: dict[Any, Change]
    # The catalogue's document of each statement the views held before the batch.
    documents_before: dict[Any, str]

    def document(self, statement_id: Any) -> str:
        """The view JSON of a statement as the batch left it."""
        return self.last_change[statement_id].document

    def kept_document(self, change: Change) -> str | None:
        """The document a row about this change stores: None (read as the
        catalogue's, see ``with_documents``) when it is the statement's last
        change of the batch, and so the catalogue's own, else its JSON. Each
        version's text is then stored once, not once per view."""
        if self.last_change[change.after.id] is change:
            return None
        return change.document

    def groups_of(self, change: Change) -> set[str]:
        """The groups of translations a change was in (left, joined or inside),
        and the one its statement ends the batch in: a translation created
        published joins its group after its publication, in the same batch."""
        final = self.statements.get(change.after.id)
        statements = (change.before, change.after, final)
        return {
            str(s.translation_group) for s in statements if s and s.translation_group
        }


def with_documents(dialect: Dialect, table: str, columns: Sequence[str]) -> str:
    """A SELECT of a view table's columns, in order, for an SQL view
    (View.readings): a row whose document is None stores none of its own,
    and its document is the statement's current one, the catalogue's."""
    listed = ", ".join(
        "COALESCE(r.document, s.document) AS document" if c == "document" else f"r.{c}"
        for c in columns
    )
    return dialect.sql(
        f"SELECT {listed} FROM {{t}} r JOIN {{s}} s ON s.id = r.statement_id",
        t=table,
        s=CATALOGUE,
    )


class StatementSource(Protocol):
    """Where a batch finds the statements the views already hold."""

    def state_at(self, statement_id: Any, version: int) -> Statement:
        """The statement as it stood at a version."""

    def remember(self, statements: Iterable[Statement]) -> None:
        """Statements as a batch left them (the next batch is likely to need them)."""


class Viewed(NamedTuple):
    """Where the views stand with a statement: its catalogue row."""

    version: int
    last_modified_us: int
    document: str


class ReadModel:
    """Mixed into an eventsourcing tracking recorder: the views plus their position.

    ``apply_batch`` locks the tracking row first, so two processes following one
    log never apply the same event twice: the second one skips what the first
    committed, and the tracking insert refuses a position that did not advance.
    """

    dialect: Dialect
    # Provided by the eventsourcing tracking recorder this is mixed into:
    datastore: Any
    max_tracking_id: Callable[[str], int | None]
    _insert_tracking: Callable[[Any, Tracking], None]
    views: Sequence[View] = ()
    # Tables of earlier layouts that no view owns now (two of them are now
    # the names of SQL views, see View.readings): a rebuild retires them.
    FORMER_TABLES = ("pf_statement_states", "pf_public_changes", "pf_archive")
    PUBLIC_STAMP = "pf_public_stamp"  # one row: the Last-Modified of public lists

    META = "pf_views_meta"  # name/value rows; 'schema' is the views' layout
    schema_version = 0  # the layout this code writes (open_views sets it)

    def read_model_statements(self) -> list[str]:
        d = self.dialect
        statements = [
            d.sql(
                "CREATE TABLE IF NOT EXISTS {p} (id INTEGER PRIMARY KEY, "
                f"stamp_us {d.bigint} NOT NULL)",
                p=self.PUBLIC_STAMP,
            ),
        ]
        for view in self.views:
            statements.extend(view.create_statements(d))
        return statements

    def create_readings(self, c: Any) -> None:
        """Makes the live views' SQL views (View.readings)."""
        d = self.dialect.live
        create = "CREATE OR REPLACE VIEW" if d.postgres else "CREATE VIEW IF NOT EXISTS"
        for view in self.views:
            for name, select in view.readings(d).items():
                c.execute(f"{create} {d.table(name)} AS {select}")

    def drop_readings(self, c: Any) -> None:
        """Drops the live SQL views, before the tables they read are renamed."""
        d = self.dialect.live
        for view in self.views:
            for name in view.readings(d):
                if relation_kind(c, d, name) == "view":
                    c.execute(f"DROP VIEW {d.table(name)}")

    def drop_former_tables(self, c: Any, suffix: str = "") -> None:
        """Drops what earlier layouts left under FORMER_TABLES (with a suffix:
        their shadows or retired copies)."""
        d = self.dialect.live
        for name in self.FORMER_TABLES:
            if relation_kind(c, d, name + suffix) == "table":
                c.execute(f"DROP TABLE {d.table(name + suffix)}")

    def drop_renamed_readings(self, c: Any, suffix: str) -> None:
        """Drops SQL views renamed with a suffix, before the tables they read:
        an older version's swap renames whatever bears its tables' names
        (on PostgreSQL, views too, which then hold the retired tables)."""
        d = self.dialect.live
        for view in self.views:
            for name in view.readings(d):
                if relation_kind(c, d, name + suffix) == "view":
                    c.execute(f"DROP VIEW {d.table(name + suffix)}")

    @property
    def view_tables(self) -> tuple[str, ...]:
        """Every table these views own."""
        return (self.PUBLIC_STAMP, *(t for v in self.views for t in v.tables))

    @property
    def tables(self) -> Tables:
        return Tables(self.datastore)

    def cursor(self, *, commit: bool = False) -> AbstractContextManager[Any]:
        return self.tables.cursor(commit=commit)

    def query(self, text: str, params: Sequence[Any] = (), **tables: str) -> list[Any]:
        """Runs a read-only query on the (live) views."""
        return self.tables.query(text, params, **tables)

    def execute(self, text: str, params: Sequence[Any] = (), **tables: str) -> None:
        """Runs one statement on the (live) views in its own transaction."""
        self.tables.execute(text, params, **tables)

    def ensure_schema(self, application_name: str, version: int) -> bool:
        """Makes the views if the store has none (at the start of the log).
        Returns whether the views now have this layout: False means they hold
        an older one, which keeps serving until a rebuild in shadow (see
        projections/rebuild.py) replaces it."""
        self.schema_version = version
        d = self.dialect.live
        self.execute(
            "CREATE TABLE IF NOT EXISTS {m} (name TEXT PRIMARY KEY, value TEXT)",
            m=self.META,
        )
        with self.cursor() as c:  # read first: a read-only store can still serve
            stored = self.stored_schema(c)
        if stored is not None:
            return stored == version
        with self.cursor(commit=True) as c:
            self.lock_position(c, application_name)
            stored = self.stored_schema(c)
            if stored is not None:  # made meanwhile by another process
                return stored == version
            self.drop_readings(c)  # a store older than its layout's record
            for table in self.view_tables:
                c.execute(d.sql("DROP TABLE IF EXISTS {t}", t=table))
            self.drop_former_tables(c)
            for statement in self.read_model_statements():
                c.execute(statement)
            self.create_readings(c)
            self.rewind(c, application_name)
            self.record_schema(c, version)
        return True

    def stored_schema(self, c: Any) -> int | None:
        """The layout the stored views were made with (None: there are none)."""
        c.execute(
            self.dialect.live.sql(
                "SELECT value FROM {m} WHERE name = 'schema'", m=self.META
            )
        )
        row = c.fetchone()
        return int(row["value"]) if row else None

    def record_schema(self, c: Any, version: int) -> None:
        d = self.dialect.live
        c.execute(d.sql("DELETE FROM {m} WHERE name = 'schema'", m=self.META))
        c.execute(
            d.sql("INSERT INTO {m} (name, value) VALUES ('schema', ?)", m=self.META),
            (str(version),),
        )

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0

    def shadow(self, token: str) -> ReadModel:
        """These views under other names, to be rebuilt beside the live ones:
        tables ending in SHADOW_SUFFIX, indexes in _token (see Dialect)."""
        shadow = copy.copy(self)
        shadow.dialect = replace(
            self.dialect.live, table_suffix=SHADOW_SUFFIX, index_suffix=f"_{token}"
        )
        shadow.schema_version = 0  # its layout is new by design
        return shadow

    def apply_batch(
        self,
        application_name: str,
        events: Sequence[tuple[int, Any]],
        after: int,
        last_position: int,
        memory: StatementSource,
    ) -> int | None:
        """Applies (position, event) pairs of statements and of the front page
        read from the log after a position, and tracks last_position.

        Returns how many events were applied, or None when the views are no longer
        at that position (another worker went first, or a rebuild rewound them):
        the caller reads the position again and selects a fresh batch. Raises
        ViewsOutdated when a newer layout was swapped in under this code.
        """
        with self.cursor(commit=True) as c:
            if self.lock_position(c, application_name) != after:
                return None
            if self.schema_version and self.stored_schema(c) != self.schema_version:
                raise ViewsOutdated(self.schema_version, self.stored_schema(c))
            return self.apply_in(c, application_name, events, last_position, memory)

    def apply_in(
        self,
        c: Any,
        application_name: str,
        events: Sequence[tuple[int, Any]],
        last_position: int,
        memory: StatementSource,
    ) -> int:
        """apply_batch's work, in a transaction that holds the position's lock."""
        front_page_id = FrontPage.create_id()
        featuring = [e for _, e in events if e.originator_id == front_page_id]
        pending = [(p, e) for p, e in events if e.originator_id != front_page_id]
        viewed = self._viewed(c, {e.originator_id for _, e in pending})
        stamps = {i: v.last_modified_us for i, v in viewed.items()}
        states: dict[Any, Statement] = {}
        dirty: dict[Any, Statement] = {}
        created_at: dict[Any, int] = {}
        changes: list[Change] = []
        last_change: dict[Any, Change] = {}
        for position, event in pending:
            before = states.get(event.originator_id)
            if before is None and event.originator_id in viewed:
                version = viewed[event.originator_id].version
                before = memory.state_at(event.originator_id, version)
            if before is None:
                created_at[event.originator_id] = position
            now = event.mutate(copy.copy(before) if before else None)
            states[event.originator_id] = dirty[event.originator_id] = now
            previous = stamps.get(event.originator_id)
            if before is None or not before.was_public:
                previous = None  # no reader has held an earlier version
            if previous is not None and not shows_in_public(event, before, now):
                stamp = previous  # unseen: its date stays
            else:
                stamp = next_stamp(previous, micros(event.timestamp))
            stamps[event.originator_id] = stamp
            change = Change(position, event, before, now, stamp)
            changes.append(change)
            last_change[event.originator_id] = change
            for view in self.views:
                view.apply(c, self.dialect, change)
        documents_before = {i: v.document for i, v in viewed.items()}
        outcome = BatchOutcome(
            dirty, created_at, changes, last_change, documents_before
        )
        for view in self.views:
            view.apply_final(c, self.dialect, outcome)
        for event in featuring:
            for view in self.views:
                view.apply_front_page(c, self.dialect, event)
        memory.remember(dirty.values())
        public = [ch.event for ch in changes if ch.shows_in_public]
        public += featuring  # the front page changes with them
        if public:
            recorded = max(micros(event.timestamp) for event in public)
            self.advance_public_stamp(c, recorded)
        self._insert_tracking(c, Tracking(application_name, last_position))
        return len(pending) + len(featuring)

    def reset(self, application_name: str) -> None:
        """Empties every view in place and rewinds the position to the start of
        the log (tests; a rebuild for people runs in shadow instead)."""
        d = self.dialect
        with self.cursor(commit=True) as c:
            self.lock_position(c, application_name)
            for table in self.view_tables:
                c.execute(d.sql("DELETE FROM {t}", t=table))
            self.rewind(c, application_name)

    def forget_position(self, c: Any, application_name: str) -> None:
        """Removes a tracking row (a finished rebuild's)."""
        c.execute(
            self.dialect.live.sql(
                "DELETE FROM {t} WHERE application_name = ?", t=self.tracking_table
            ),
            (application_name,),
        )

    def layout_is_current(self) -> bool:
        """Whether the stored views have the layout this code writes."""
        return self.stored_layout() == self.schema_version

    def layout_is_newer(self) -> bool:
        """Whether a newer version of pressfeed built the stored views."""
        stored = self.stored_layout()
        return stored is not None and stored > self.schema_version

    def stored_layout(self) -> int | None:
        with self.cursor() as c:
            return self.stored_schema(c)

    def rewind(self, c: Any, application_name: str) -> None:
        """Sets the position back to the start of the log."""
        c.execute(
            self.dialect.live.sql(
                "UPDATE {t} SET notification_id = 0 WHERE application_name = ?",
                t=self.tracking_table,
            ),
            (application_name,),
        )

    # Internals

    @property
    def tracking_table(self) -> str:
        return getattr(self, "tracking_table_name", "tracking")

    def lock_position(self, c: Any, application_name: str) -> int:
        """Takes the write lock on the tracking row and reads it."""
        d = self.dialect.live
        c.execute(
            d.sql(
                "INSERT INTO {t} (application_name, notification_id) VALUES (?, 0) "
                "ON CONFLICT (application_name) DO NOTHING",
                t=self.tracking_table,
            ),
            (application_name,),
        )
        lock = " FOR UPDATE" if d.postgres else ""
        c.execute(
            d.sql(
                "SELECT notification_id FROM {t} WHERE application_name = ?" + lock,
                t=self.tracking_table,
            ),
            (application_name,),
        )
        return int(c.fetchone()["notification_id"])

    def public_stamp(self) -> datetime:
        """The Last-Modified of every public list: it moves, a second at a time,
        with each batch of changes the public can see."""
        rows = self.query("SELECT stamp_us FROM {p} WHERE id = 1", p=self.PUBLIC_STAMP)
        return from_micros(int(rows[0]["stamp_us"])) if rows else EPOCH

    def stamp_in(self, c: Any) -> int | None:
        """The public stamp as this transaction sees it."""
        c.execute(
            self.dialect.sql(
                "SELECT stamp_us FROM {p} WHERE id = 1", p=self.PUBLIC_STAMP
            )
        )
        row = c.fetchone()
        return int(row["stamp_us"]) if row else None

    def advance_public_stamp(self, c: Any, recorded_us: int) -> None:
        self.set_public_stamp(c, next_stamp(self.stamp_in(c), recorded_us))

    def set_public_stamp(self, c: Any, stamp: int) -> None:
        d = self.dialect
        c.execute(
            d.sql(
                "INSERT INTO {p} (id, stamp_us) VALUES (1, ?) ON CONFLICT (id) "
                "DO UPDATE SET stamp_us = excluded.stamp_us",
                p=self.PUBLIC_STAMP,
            ),
            (stamp,),
        )

    def _viewed(self, c: Any, ids: set[Any]) -> dict[Any, Viewed]:
        """Where the views stand with each of these statements they hold."""
        viewed: dict[Any, Viewed] = {}
        by_text = {str(i): i for i in ids}
        id_list = sorted(by_text)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            c.execute(
                self.dialect.sql(
                    "SELECT id, version, modified_us, document FROM {c} "
                    f"WHERE id IN ({marks})",
                    c=CATALOGUE,
                ),
                tuple(chunk),
            )
            for row in c.fetchall():
                viewed[by_text[row["id"]]] = Viewed(
                    int(row["version"]), int(row["modified_us"]), row["document"]
                )
        return viewed


class SQLiteReadModel(ReadModel, SQLiteTrackingRecorder):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        self.dialect = Dialect(postgres=False)
        super().__init__(datastore, **kwargs)


class PostgresReadModel(ReadModel, PostgresTrackingRecorder):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        self.dialect = Dialect(postgres=True, schema=datastore.schema)
        super().__init__(datastore, **kwargs)


class ViewsOutdated(RuntimeError):
    """The stored views have another layout than this code writes: a newer
    version of pressfeed rebuilt them. This process must be upgraded."""

    def __init__(self, expected: int, stored: int | None) -> None:
        super().__init__(
            f"The views have layout {stored}; this pressfeed writes {expected}. "
            "Run the version that rebuilt them, or rebuild them for this one "
            "(pressfeed rebuild; see docs/deployment.md on going back)."
        )


def json_dumps(value: Any) -> str:
    """Compact, stable JSON for view columns."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def load_document(text: str) -> StatementDocument:
    """A statement document as a view stored it, with its body rendered (HTML
    is made when read: rendering is the costliest part of applying an event,
    and most stored versions are never read)."""
    return with_body_html(json.loads(text))
