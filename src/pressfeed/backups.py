"""Backups, restores and moves of the event log between stores, byte for byte.

A backup is a SQLite file made with SQLite's online backup API (a page copy
under one read transaction: writers go on, rowids, which are the log's
positions, are kept), then opened and verified: the hash chain, and every node
of the Merkle tree against the chain.

Restore and migrate copy stored events, never commands: every event keeps its
position, id, version, topic and stored state (its recorded time is in it), so
the target's chain, recomputed by its own inserts, has the source's hashes, and
its tree the source's roots. Each record is checked against the source's chain
link before it is written, and each batch of BATCH events, with its links and
leaves, is one transaction: a killed copy leaves whole batches, and a re-run
continues after the target's head. Accounts and API tokens are copied too;
desk sessions are not (everyone signs in again).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from pressfeed.assembly import Pressfeed
from pressfeed.config import Settings, sqlite_path
from pressfeed.ledger import GENESIS, append_links, chain_hash
from pressfeed.people import PEOPLE
from pressfeed.tokens import TABLE as TOKENS
from pressfeed.transparency import RunningRoot

log = logging.getLogger(__name__)

BATCH = 1000
SQLITE_HEADER = b"SQLite format 3\x00"
# What a backup carries besides the log, each table with its primary key.
ACCOUNT_KEYS = {PEOPLE: "name", TOKENS: "id"}
ACCOUNT_TABLES = tuple(ACCOUNT_KEYS)
NEVER_UNDONE = ("revoked_at", "disabled_at")  # kept when either store has one

Progress = Callable[[int], None]


class BackupRefused(Exception):
    """A backup, restore or migration that must not go on; nothing was changed."""


class BadSource(BackupRefused):
    """A source whose log does not hold together at a position."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"position {position}: {reason}")
        self.position = position


@dataclass(frozen=True)
class Record:
    """One stored event as the log holds it, with its chain link's hash."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes
    hash: str


@dataclass
class Head:
    """Where a log ends: its size, last position and hash, and Merkle root."""

    events: int = 0
    position: int = 0
    hash: str = GENESIS
    root: bytes = field(default_factory=lambda: RunningRoot().root())

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "position": self.position,
            "hash": self.hash,
            "root": base64.b64encode(self.root).decode(),
        }


def head_of(pressfeed: Pressfeed) -> Head:
    """The head of a store's log, its root read from the stored tree."""
    ledger = pressfeed.ledger
    link = ledger.head()
    if link is None:
        return Head()
    size = ledger.size()
    return Head(size, link.position, link.hash, ledger.tree.root(size))


def at_url(settings: Settings, database_url: str) -> Settings:
    return replace(settings, database_url=database_url)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


# Reading a source


def store_records(pressfeed: Pressfeed, after: int = 0) -> Iterator[Record]:
    """Every stored event after a position, with its link, in log order."""
    ledger = pressfeed.ledger
    links = ledger.links(after)
    for event in ledger.events(after):
        link = next(links, None)
        if link is None or link.position != event.id:
            raise BadSource(event.id, "the event has no chain link")
        yield Record(
            event.id,
            event.originator_id,
            event.originator_version,
            event.topic,
            bytes(event.state),
            link.hash,
        )
    extra = next(links, None)
    if extra is not None:
        raise BadSource(extra.position, "a chain link without its event")


def export_records(path: Path) -> Iterator[Record]:
    """The stored events of a `pressfeed export` file, in its order."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                yield Record(
                    int(item["position"]),
                    UUID(item["statement_id"]),
                    int(item["version"]),
                    str(item["topic"]),
                    base64.b64decode(item["state"], validate=True),
                    str(item["hash"]),
                )
            except (ValueError, KeyError, TypeError, binascii.Error) as error:
                where = f"{path}:{number}"
                if isinstance(error, KeyError) and error.args[0] in ("topic", "state"):
                    raise BackupRefused(
                        f"{where}: the line has no stored state (an export made "
                        "before pressfeed wrote them): export the log again"
                    ) from None
                raise BackupRefused(f"{where}: not an exported event") from None


def checked(
    records: Iterable[Record], prev: str = GENESIS, *, resumed: bool = False
) -> Iterator[Record]:
    """The records, each checked against the chain: its hash recomputed from
    its content and the link before, positions rising, every statement's
    versions running 1, 2, 3... (after a resume, from the first one seen)."""
    versions: dict[UUID, int] = {}
    position = 0
    for record in records:
        if record.position <= position:
            raise BadSource(record.position, "positions do not rise")
        known = versions.get(record.originator_id)
        expected = 1 if known is None else known + 1
        if record.version != expected and not (resumed and known is None):
            raise BadSource(record.position, f"version {record.version} out of turn")
        link = chain_hash(
            prev,
            record.position,
            record.originator_id,
            record.version,
            record.topic,
            record.state,
        )
        if link != record.hash:
            raise BadSource(record.position, "the event does not match its chain hash")
        versions[record.originator_id] = record.version
        prev, position = link, record.position
        yield record


def summarise(records: Iterable[Record], progress: Progress) -> Head:
    """Reads checked records to their end: the head they make."""
    head, running = Head(), RunningRoot()
    for record in records:
        running.append(bytes.fromhex(record.hash))
        head.events += 1
        head.position, head.hash = record.position, record.hash
        progress(1)
    head.root = running.root()
    return head


# Writing a target


def write_batch(target: Pressfeed, records: list[Record]) -> None:
    """Inserts events at their own positions, and their links and leaves, in
    one transaction; refuses (rolling back) if the target's chain does not end
    at the last record's hash."""
    recorder: Any = target.press_office.recorder
    dialect = recorder.dialect
    stored = [
        StoredEvent(r.originator_id, r.version, r.topic, r.state) for r in records
    ]
    positions = [r.position for r in records]
    table = dialect.table(recorder.events_table_name)
    if dialect.postgres:
        rows: list[tuple[Any, ...]] = [
            (r.position, r.originator_id, r.version, r.topic, r.state) for r in records
        ]
        insert = (
            f"INSERT INTO {table} (notification_id, originator_id, "
            "originator_version, topic, state) VALUES (%s, %s, %s, %s, %s)"
        )
    else:
        rows = [
            (r.position, r.originator_id.hex, r.version, r.topic, r.state)
            for r in records
        ]
        insert = (
            f"INSERT INTO {table} (rowid, originator_id, originator_version, "
            "topic, state) VALUES (?, ?, ?, ?, ?)"
        )
    with recorder.datastore.transaction(commit=True) as opened:
        cursor = MultiRowCursor(opened) if dialect.postgres else opened
        if dialect.postgres:
            for statement in recorder.lock_table_statements:
                cursor.execute(statement, prepare=False)
        cursor.executemany(insert, rows)
        append_links(cursor, dialect, stored, positions)
        if dialect.postgres:  # new events are numbered after the copied ones
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                (table, positions[-1]),
            )
        cursor.execute(
            dialect.sql("SELECT hash FROM {c} WHERE position = ?", c="pf_chain"),
            (positions[-1],),
        )
        row = cursor.fetchone()
        if row is None or row["hash"] != records[-1].hash:
            raise BadSource(positions[-1], "the target's chain came out different")


class MultiRowCursor:
    """A psycopg cursor whose executemany of an INSERT sends one statement of
    many rows: psycopg's pipelined executemany costs a round of Python per row,
    about three times the copy's other work."""

    ROWS = 1000

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        head, values, row_marks = statement.rpartition(" VALUES ")
        if not values:
            self.cursor.executemany(statement, rows)
            return
        rows = list(rows)
        for start in range(0, len(rows), self.ROWS):
            chunk = rows[start : start + self.ROWS]
            self.cursor.execute(
                f"{head} VALUES {', '.join([row_marks.strip()] * len(chunk))}",
                [value for row in chunk for value in row],
                prepare=False,
            )


def copy_records(
    records: Iterable[Record], target: Pressfeed, progress: Progress
) -> int:
    """Writes the records to the target a batch at a time; how many."""
    batch: list[Record] = []
    copied = 0
    for record in records:
        batch.append(record)
        if len(batch) == BATCH:
            write_batch(target, batch)
            copied += len(batch)
            progress(len(batch))
            batch = []
    if batch:
        write_batch(target, batch)
        copied += len(batch)
        progress(len(batch))
    return copied


def account_rows(pressfeed: Pressfeed) -> dict[str, list[dict[str, Any]]]:
    """The rows of the accounts and tokens tables (created if missing)."""
    tables = pressfeed.people.tables, pressfeed.tokens.tables
    return {
        name: [dict(row) for row in t.query("SELECT * FROM {t}", t=name)]
        for name, t in zip(ACCOUNT_TABLES, tables, strict=True)
    }


def copy_accounts(source: Pressfeed, target: Pressfeed) -> dict[str, int]:
    """Copies desk accounts and API tokens as the source has them now: a row
    the target holds already takes the source's values, so that a migrate run
    again at the switch-over carries a revoked token, a disabled account or a
    changed role or password with it (rows only the target has are kept). A
    revocation or a disabling is never undone, whichever store holds it; a
    token whose name an active token of the target's own holds is skipped.
    Revocations first: a token made anew under a revoked one's name must not
    meet the old one still active."""
    tables = {PEOPLE: target.people.tables, TOKENS: target.tokens.tables}
    counts = {}
    for name, rows in account_rows(source).items():
        key = ACCOUNT_KEYS[name]
        rows.sort(key=lambda row: row.get("revoked_at") is None)
        for row in rows:
            try:
                tables[name].execute(upsert_sql(row, key), list(row.values()), t=name)
            except IntegrityError:
                log.warning("Kept the target's own %s row over %r", name, row[key])
        counts[name] = len(rows)
    return counts


def upsert_sql(row: dict[str, Any], key: str) -> str:
    """An INSERT of the row that, where the target holds it, takes its values."""
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    updates = ", ".join(
        f"{c} = COALESCE(held.{c}, excluded.{c})"
        if c in NEVER_UNDONE
        else f"{c} = excluded.{c}"
        for c in row
        if c != key
    )
    return (
        f"INSERT INTO {{t}} AS held ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def catch_up_views(target: Pressfeed, progress: Progress) -> int:
    """Applies the copied events to the target's views (from where a killed
    run left them: they only ever followed this log)."""
    return target.projection_worker(batch_size=BATCH).catch_up(progress=progress)


def check_heads(source: Head, target: Head) -> None:
    if (source.position, source.hash, source.root) != (
        target.position,
        target.hash,
        target.root,
    ):
        raise BackupRefused(
            f"the target ends at position {target.position} ({target.hash}), "
            f"the source at {source.position} ({source.hash})"
        )


# The three operations


@dataclass(frozen=True)
class BackupReport:
    path: Path
    head: Head
    bytes: int
    checkpoint: Path | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "backup": str(self.path),
            **self.head.as_dict(),
            "bytes": self.bytes,
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
        }


def backup(settings: Settings, dest: Path) -> BackupReport:
    """Copies the SQLite store to dest with the online backup API, then
    verifies the copy (chain, tree) and that the store has the copy's
    head; writes a signed checkpoint of it beside it if the key exists."""
    if settings.uses_postgres:
        schema = settings.eventsourcing_env().get("POSTGRES_SCHEMA")
        dump = f"pg_dump --schema={schema}" if schema else "pg_dump of its database"
        raise BackupRefused(
            f"pressfeed backup copies the embedded SQLite store. On PostgreSQL use "
            f"{dump}, or base backups "
            "with WAL archiving (pg_basebackup and archive_command) for "
            "point-in-time recovery: see docs/deployment.md."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:  # 0600, as the store: it holds the hashes of passwords and tokens
        os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupRefused(
            f"{dest} exists: a backup never overwrites a file."
        ) from None
    source = sqlite3.connect(sqlite_path(settings.database_url))
    try:
        copy = sqlite3.connect(dest)
        try:
            source.backup(copy)  # all pages in one step: one consistent snapshot
        finally:
            copy.close()
    finally:
        source.close()
    head = verify_backup(settings, dest)
    checkpoint = write_checkpoint(settings, dest, head)
    return BackupReport(dest, head, dest.stat().st_size, checkpoint)


def verify_backup(settings: Settings, path: Path) -> Head:
    """Opens the copy: its chain, its tree against the chain, and the live
    store's link at the copy's head. BackupRefused if any fails."""
    copy = Pressfeed(at_url(settings, sqlite_url(path)))
    try:
        result = copy.ledger.verify()  # the chain, and every tree node against it
        if result.first_bad is not None:
            raise BadSource(result.first_bad, "the copy's chain is broken")
        if not result.ok:
            raise BackupRefused("the copy's Merkle tree does not match its chain")
        head = head_of(copy)
    finally:
        copy.close()
    if head.events:
        live = Pressfeed(settings)
        try:
            link = live.ledger.link_at(head.position)
        finally:
            live.close()
        if link is None or link.hash != head.hash:
            raise BackupRefused("the store no longer has the copy's head")
    return head


def write_checkpoint(settings: Settings, dest: Path, head: Head) -> Path | None:
    """DEST.checkpoint: the copy's tree head signed with the log's key, if the
    press office has one (restore then checks the restored log against it)."""
    from pressfeed.checkpoints import Checkpoint, NoSigningKey, read_signing_key

    try:
        key = read_signing_key(settings.signing_key_path)
    except NoSigningKey:
        return None
    path = dest.with_name(dest.name + ".checkpoint")
    path.write_text(
        key.sign(
            Checkpoint(settings.log_origin or key.name, head.events, head.root).text()
        )
    )
    return path


@dataclass(frozen=True)
class CopyReport:
    head: Head
    copied: int
    accounts: dict[str, int]
    views: int

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.head.as_dict(),
            "copied": self.copied,
            "accounts": self.accounts.get(PEOPLE, 0),
            "tokens": self.accounts.get(TOKENS, 0),
            "views_replayed": self.views,
        }


def contents(pressfeed: Pressfeed) -> dict[str, int]:
    """How many events, accounts and tokens a store holds."""
    counts = {"events": pressfeed.ledger.size()}
    counts.update({k: len(v) for k, v in account_rows(pressfeed).items()})
    return counts


def is_backup_file(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def restore(
    source_path: Path,
    target: Pressfeed,
    progress: Progress = lambda _: None,
) -> CopyReport:
    """Restores a backup file or an export into an empty store: checks the whole
    source first, then copies it and rebuilds the views."""
    held = contents(target)
    if any(held.values()):
        raise BackupRefused(
            f"the store is not empty ({held['events']} events, {held[PEOPLE]} "
            f"accounts, {held[TOKENS]} tokens): restore only into an empty store "
            "(a new PRESSFEED_DATABASE_URL). Nothing was changed."
        )
    if not is_backup_file(source_path):
        source_head = summarise(checked(export_records(source_path)), lambda _: None)
        copied = copy_records(checked(export_records(source_path)), target, progress)
        return finish(source_head, copied, {}, target)
    check_integrity(source_path)
    source = Pressfeed(at_url(target.settings, sqlite_url(source_path)))
    try:
        source_head = summarise(checked(store_records(source)), lambda _: None)
        if head_of(source) != source_head:
            raise BackupRefused("the backup's Merkle tree does not match its chain")
        copied = copy_records(checked(store_records(source)), target, progress)
        accounts = copy_accounts(source, target)
    finally:
        source.close()
    return finish(source_head, copied, accounts, target)


def check_integrity(path: Path) -> None:
    """SQLite's own check of the file's structure (read-only)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            result = connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupRefused(f"{path} is damaged: {error}") from None
    if result != "ok":
        raise BackupRefused(f"{path} is damaged: {result}")


def finish(
    source_head: Head, copied: int, accounts: dict[str, int], target: Pressfeed
) -> CopyReport:
    """Rebuilds the target's views and compares its head with the source's."""
    check_heads(source_head, head_of(target))
    views = catch_up_views(target, lambda _: None)
    return CopyReport(source_head, copied, accounts, views)


def migrate(
    source: Pressfeed,
    target: Pressfeed,
    progress: Progress = lambda _: None,
) -> CopyReport:
    """Copies the source's log after the target's head (a first run, or the
    rest of a killed one), the accounts and tokens, rebuilds the target's views
    and compares the heads."""
    start = head_of(target)
    if start.events:
        link = source.ledger.link_at(start.position)
        if link is None or link.hash != start.hash:
            raise BackupRefused(
                f"the target holds another log (its head at position "
                f"{start.position} is not the source's): migrate only into an "
                "empty store or one this source was migrating to. Nothing was changed."
            )
    records = checked(
        store_records(source, after=start.position),
        prev=start.hash,
        resumed=bool(start.events),
    )
    copied = copy_records(records, target, progress)
    accounts = copy_accounts(source, target)
    views = catch_up_views(target, lambda _: None)
    source_head, target_head = head_of(source), head_of(target)
    if source_head.position > target_head.position:
        raise BackupRefused(
            f"the source was written to while copying (it ends at position "
            f"{source_head.position}, the copy at {target_head.position}): pause "
            "writes and run migrate again, it copies only the rest"
        )
    check_heads(source_head, target_head)
    return CopyReport(target_head, copied, accounts, views)
