"""The SQL store beside the event log (SQLite file or PostgreSQL), for views and tokens.

SQL here is written once with ``?`` placeholders and ``{name}`` table names;
``Dialect`` adapts it to the configured database.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory

from pressfeed.config import Settings


@dataclass(frozen=True)
class Dialect:
    """The few differences between SQLite and PostgreSQL that our tables meet."""

    postgres: bool
    schema: str = ""
    # A rebuild writes new views beside the live ones: its tables carry
    # table_suffix until they are swapped in, its indexes index_suffix for good
    # (index names are unique per schema, and SQLite cannot rename an index).
    table_suffix: str = ""
    index_suffix: str = ""

    @property
    def blob(self) -> str:
        return "BYTEA" if self.postgres else "BLOB"

    @property
    def bigint(self) -> str:
        return "BIGINT" if self.postgres else "INTEGER"

    def table(self, name: str) -> str:
        name += self.table_suffix
        return f'"{self.schema}"."{name}"' if self.postgres else name

    def index(self, name: str) -> str:
        """An index's name (unqualified: an index lives in its table's schema)."""
        return name + self.index_suffix

    @property
    def live(self) -> Dialect:
        """The same database without a rebuild's suffixes."""
        return Dialect(self.postgres, self.schema)

    def sql(self, text: str, **tables: str) -> str:
        """Formats {name} table names and turns ? into %s for psycopg."""
        text = text.format(**{k: self.table(v) for k, v in tables.items()})
        return text.replace("?", "%s") if self.postgres else text


class SQLiteStore(SQLiteFactory):
    """eventsourcing's SQLite persistence, each connection opened with
    ``secure_delete = FAST``.

    Debian builds SQLite with secure_delete on: every page a delete frees is
    overwritten with zeros, so dropping the tables a rebuild replaced wrote
    them out once more (1.7 of the 10 s of a 20,000-statement rebuild). FAST
    still zeroes deleted rows inside the pages it writes anyway, and leaves
    freed pages as they were: whole pages of dropped or emptied views (all
    derived from the event log, which is never deleted from), and now and
    then of expired sessions or revoked tokens, which hold only hashes."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        self.datastore.pool = _FastDeletePool(
            db_name=pool.db_name, lock_timeout=pool.lock_timeout
        )


class _FastDeletePool(SQLiteConnectionPool):
    """eventsourcing's pool, each new connection set to secure_delete = FAST."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = FAST")
        return connection


def tables_of(recorder: object) -> Tables:
    """The tables beside an eventsourcing SQLite or PostgreSQL recorder (both
    have a datastore, which their common base class does not declare)."""
    return Tables(getattr(recorder, "datastore"))  # noqa: B009


def dialect_of(datastore: Any) -> Dialect:
    schema = getattr(datastore, "schema", "")
    return Dialect(postgres=bool(schema), schema=schema)


class Tables:
    """Runs SQL on an eventsourcing datastore (SQLite or PostgreSQL)."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.dialect = dialect_of(datastore)

    @contextmanager
    def cursor(self, *, commit: bool = False) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as c:
            yield c

    def query(self, text: str, params: Sequence[Any] = (), **tables: str) -> list[Any]:
        """The rows of one SELECT. On SQLite it runs on its own, without
        BEGIN and ROLLBACK around it: one statement reads one snapshot anyway."""
        sql = self.dialect.sql(text, **tables)
        if self.dialect.postgres:
            with self.cursor() as c:
                c.execute(sql, tuple(params))
                return list(c.fetchall())
        with (
            self.datastore.get_connection(commit=False) as connection,
            connection.cursor() as c,
        ):
            c.execute(sql, tuple(params))
            return list(c.fetchall())

    def returning(
        self, text: str, params: Sequence[Any] = (), **tables: str
    ) -> list[Any]:
        """The rows a writing statement returns (... RETURNING), committed."""
        with self.cursor(commit=True) as c:
            c.execute(self.dialect.sql(text, **tables), tuple(params))
            return list(c.fetchall())

    def execute(self, text: str, params: Sequence[Any] = (), **tables: str) -> None:
        """Runs one statement in its own transaction."""
        with self.cursor(commit=True) as c:
            c.execute(self.dialect.sql(text, **tables), tuple(params))


def vacuum_analyse(tables: Tables, names: Iterable[str]) -> None:
    """On PostgreSQL, VACUUM (ANALYZE) of these tables (those that exist),
    after a bulk write, rather than when autovacuum comes to them (if it
    runs): the planner then knows their sizes, and index-only scans skip
    the table. SQLite needs nothing."""
    if not tables.dialect.postgres:
        return
    with tables.datastore.get_connection() as conn:  # autocommit: VACUUM needs it
        for name in names:
            with conn.cursor() as cursor:
                if table_exists(cursor, tables.dialect, name):
                    cursor.execute(f"VACUUM (ANALYZE) {tables.dialect.table(name)}")


def table_exists(cursor: Any, dialect: Dialect, name: str) -> bool:
    """Whether the store has this table (its unqualified name)."""
    if dialect.postgres:
        cursor.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS found", (dialect.table(name),)
        )
    else:
        cursor.execute(
            "SELECT count(*) > 0 AS found FROM sqlite_master "
            "WHERE type = 'table' AND name = ?",
            (name,),
        )
    return bool(cursor.fetchone()["found"])


def relation_kind(cursor: Any, dialect: Dialect, name: str) -> str | None:
    """Whether a name (unqualified) is a "table" or a "view" of the store, or
    None if it names neither."""
    if dialect.postgres:
        cursor.execute(
            "SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END AS kind "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v')",
            (dialect.schema, name),
        )
    else:
        cursor.execute(
            "SELECT type AS kind FROM sqlite_master "
            "WHERE type IN ('table', 'view') AND name = ?",
            (name,),
        )
    row = cursor.fetchone()
    return str(row["kind"]) if row else None


SCHEMA_LOCK_KEY = 7_202_611  # any fixed number: the advisory lock that guards DDL
REBUILD_LOCK_KEY = 7_202_612  # the one that lets one rebuild of the views run


def admin_connection(env: dict[str, str]) -> psycopg.Connection[Any]:
    """An autocommit connection to the PostgreSQL server of an eventsourcing
    environment, for locks and schemas."""
    return psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        autocommit=True,
    )


@contextmanager
def advisory_lock(env: dict[str, str], key: int) -> Iterator[None]:
    """Holds a PostgreSQL session-level advisory lock (waits for it), one per
    schema: press offices sharing a database never wait for each other."""
    held = (key, env.get("POSTGRES_SCHEMA", "public"))
    with admin_connection(env) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", held)
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", held)


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """Serialises table creation across processes on PostgreSQL, where concurrent
    CREATE TABLE IF NOT EXISTS can still collide. SQLite needs nothing."""
    if not settings.uses_postgres:
        yield
        return
    env = settings.eventsourcing_env()
    with advisory_lock(env, SCHEMA_LOCK_KEY):
        if not schema_exists(env):  # ?schema=name of a new office
            with admin_connection(env) as conn:
                conn.execute(
                    psycopg.sql.SQL("CREATE SCHEMA {}").format(
                        psycopg.sql.Identifier(env["POSTGRES_SCHEMA"])
                    )
                )
        yield


def schema_exists(env: dict[str, str]) -> bool:
    """Whether the PostgreSQL schema an environment names is there (public,
    when it names none, always is)."""
    schema = env.get("POSTGRES_SCHEMA")
    if not schema:
        return True
    with admin_connection(env) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
    return found is not None


@contextmanager
def rebuild_lock(settings: Settings) -> Iterator[None]:
    """Lets one process at a time rebuild the views (waits for the other):
    an advisory lock on PostgreSQL, a lock on a file beside the SQLite one."""
    env = settings.eventsourcing_env()
    if settings.uses_postgres:
        with advisory_lock(env, REBUILD_LOCK_KEY):
            yield
        return
    with open(f"{env['SQLITE_DBNAME']}.rebuild-lock", "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


# SQLite's primary result codes that mean "not now", not "wrong": busy and
# locked (past the lock timeout), read-only, I/O error, full, cannot open.
SQLITE_REFUSALS = frozenset({5, 6, 8, 10, 13, 14})
# PostgreSQL's SQLSTATEs of the same: a read-only transaction (a hot standby,
# default_transaction_read_only), and the classes connection exception (08),
# insufficient resources (53: disk full, out of memory, too many connections)
# and operator intervention (57P: shutdown, cannot connect now).
POSTGRES_REFUSALS = ("08", "53", "57P", "25006")


def store_unavailable(error: BaseException) -> bool:
    """Whether error, or an error it was raised from, says the store refuses
    work for now (read-only, full, locked, unreachable): a condition to wait
    out, not a fault of pressfeed's."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            return code is not None and code & 0xFF in SQLITE_REFUSALS
        if isinstance(current, psycopg.Error):
            if current.sqlstate is None:  # no answer from a server: unreachable
                return isinstance(current, psycopg.OperationalError)
            return current.sqlstate.startswith(POSTGRES_REFUSALS)
        current = current.__cause__ or current.__context__
    return False


SQLITE_READONLY = 8
POSTGRES_READ_ONLY = "25006"  # read_only_sql_transaction: a hot standby


def read_only(error: BaseException) -> bool:
    """Whether error, or an error it was raised from, says the store takes
    reads only (a read-only file or a hot standby), for good."""
    current: BaseException | None = error
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            return code is not None and code & 0xFF == SQLITE_READONLY
        if isinstance(current, psycopg.Error):
            return current.sqlstate == POSTGRES_READ_ONLY
        current = current.__cause__ or current.__context__
    return False


HEALTH_TABLE = "pf_health"


def create_health_table(tables: Tables) -> None:
    tables.execute(
        "CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY, "
        "checked_at TEXT NOT NULL)",
        t=HEALTH_TABLE,
    )


def write_heartbeat(tables: Tables) -> None:
    """Commits a write of one row: raises what the store says if it refuses."""
    tables.execute(
        "INSERT INTO {t} (id, checked_at) VALUES (1, ?) "
        "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        (datetime.now(UTC).isoformat(),),
        t=HEALTH_TABLE,
    )
