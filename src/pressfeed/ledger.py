"""A hash chain over the event log: tamper evidence for auditors.

Every stored event gets a link in the chain table, written by the event store's
own insert, in the same transaction, under the same write lock that orders the
log: hash(n) = SHA-256(hash(n-1), position, statement id, version, type, state).
Changing one byte of an event, deleting one or swapping two breaks the chain at
that position. Someone able to rewrite both the events and the whole chain is
caught by outsiders who kept an earlier head (/audit/head):
the rewritten chain no longer has that hash at that position.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg import sql as pg_sql

from pressfeed.checkpoints import KeptNote
from pressfeed.storage import (
    Dialect,
    Tables,
    read_only,
    tables_of,
    vacuum_analyse,
)
from pressfeed.transparency import (
    TREE,
    MerkleTree,
    RunningRoot,
    append_leaves,
    check_stored_tree,
    tree_head,
    tree_table_statements,
)

CHAIN = "pf_chain"
# One row: the newest checkpoint any process signed, so that every process
# serves it and none serves an older one after it (a witness would say the
# log shrank).
CHECKPOINT = "pf_checkpoint"
GENESIS = "0" * 64
BATCH = 1000


def chain_hash(
    prev_hash: str,
    position: int,
    originator_id: UUID | str,
    version: int,
    topic: str,
    state: bytes | str,
) -> str:
    """The link of one event: its canonical content and the link before it
    (each field, then a zero byte, then the state)."""
    head = f"{prev_hash}\x00{position}\x00{originator_id}\x00{version}\x00{topic}\x00"
    content = state.encode() if isinstance(state, str) else bytes(state)
    return hashlib.sha256(head.encode() + content).hexdigest()


def chain_table_statements(dialect: Dialect) -> list[str]:
    return [
        dialect.sql(
            "CREATE TABLE IF NOT EXISTS {k} (id INTEGER PRIMARY KEY, "
            f"signer TEXT NOT NULL, size {dialect.bigint} NOT NULL, "
            f"note TEXT NOT NULL, signed_us {dialect.bigint} NOT NULL)",
            k=CHECKPOINT,
        ),
        dialect.sql(
            "CREATE TABLE IF NOT EXISTS {c} ("
            f"position {dialect.bigint} PRIMARY KEY, originator_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, hash TEXT NOT NULL, prev_hash TEXT NOT NULL)",
            c=CHAIN,
        ),
        dialect.sql(
            "CREATE INDEX IF NOT EXISTS pf_chain_by_statement "
            "ON {c} (originator_id, version)",
            c=CHAIN,
        ),
    ]


@dataclass(frozen=True)
class ChainTip:
    """The chain's last link and the Merkle tree's right edge as one write left
    them, and the leaves it wrote. A writer keeps it to skip reading the tree
    back on its next write, but only after checking, under the write lock, that
    the chain's last link is still this one (the same position and hash: the
    same chain, so the same tree), so another writer or a rolled back write
    only costs a read."""

    position: int
    hash: str
    size: int
    edge: Mapping[int, bytes]
    leaves: tuple[tuple[str, int, int, str], ...] = ()  # (id, version, index, hash)


def append_links(
    cursor: Any,
    dialect: Dialect,
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
    tip: ChainTip | None = None,
) -> ChainTip:
    """Writes the chain links of events just inserted (inside their transaction,
    after the lock that orders the log), and their leaves in the Merkle tree. A
    tree behind the chain (a store made before the tree) is first given the
    leaves it lacks, in the same transaction. With the tip of the last write,
    the tree is not read when the chain still ends where that write left it."""
    cursor.execute(
        dialect.sql(
            "SELECT position, hash FROM {c} ORDER BY position DESC LIMIT 1", c=CHAIN
        )
    )
    row = cursor.fetchone()
    head_position, prev = (row["position"], row["hash"]) if row else (0, GENESIS)
    leaves: list[tuple[int, bytes]] = []
    edge: Mapping[int, bytes] | None = None
    if tip is not None and (tip.position, tip.hash) == (head_position, prev):
        size, edge = tip.size, tip.edge
    else:
        size, tree_position = tree_head(cursor, dialect)
        if head_position != tree_position:
            cursor.execute(
                dialect.sql(
                    "SELECT position, hash FROM {c} WHERE position > ? "
                    "ORDER BY position",
                    c=CHAIN,
                ),
                (tree_position,),
            )
            leaves = [
                (r["position"], bytes.fromhex(r["hash"])) for r in cursor.fetchall()
            ]
    links = []
    written = []
    for event, position in zip(stored_events, positions, strict=True):
        link = chain_hash(
            prev,
            position,
            event.originator_id,
            event.originator_version,
            event.topic,
            event.state,
        )
        originator = str(event.originator_id)
        links.append((position, originator, event.originator_version, link, prev))
        written.append((originator, event.originator_version, size + len(leaves), link))
        leaves.append((position, bytes.fromhex(link)))
        prev, head_position = link, position
    if links:
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {c} (position, originator_id, version, hash, prev_hash) "
                "VALUES (?, ?, ?, ?, ?)",
                c=CHAIN,
            ),
            links,
        )
    edge = append_leaves(cursor, dialect, size, leaves, edge)
    return ChainTip(head_position, prev, size + len(leaves), edge, tuple(written))


class RecentLeaves:
    """The leaves of the last writes this process committed: the answer to a
    command names its event's leaf without reading it back. Committed leaves
    never change, so a bounded memory of them is never wrong, only short."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._leaves: OrderedDict[tuple[str, int], tuple[int, str]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, tip: ChainTip) -> None:
        with self._lock:
            for originator, version, index, link in tip.leaves:
                self._leaves[(originator, version)] = (index, link)
            while len(self._leaves) > self.capacity:
                self._leaves.popitem(last=False)

    def get(self, originator_id: UUID, version: int) -> tuple[int, str] | None:
        with self._lock:
            return self._leaves.get((str(originator_id), version))


class ChainWriter:
    """What both chained recorders keep between writes: the tip of the last
    write (see ChainTip) and the leaves recently committed."""

    def __init__(self) -> None:
        self.tip: ChainTip | None = None
        self.recent_leaves = RecentLeaves()

    def append(
        self,
        cursor: Any,
        dialect: Dialect,
        stored_events: Sequence[StoredEvent],
        positions: Sequence[int],
    ) -> ChainTip:
        """append_links with the last tip; the new tip is kept at once (it is
        checked before any use, so a write that then rolls back is harmless)."""
        tip = append_links(cursor, dialect, stored_events, positions, self.tip)
        self.tip = tip
        return tip

    def committed(self, tip: ChainTip) -> None:
        self.recent_leaves.remember(tip)


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder, plus the chain link of every event."""

    dialect = Dialect(postgres=False)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *chain_table_statements(self.dialect),
            *tree_table_statements(self.dialect),
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chain = ChainWriter()

    def catch_up_tree(self) -> None:
        """Gives the Merkle tree the leaves it lacks (a store made before it)."""
        with self.datastore.transaction(commit=True) as c:
            self.chain.append(c, self.dialect, [], [])

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """eventsourcing's insert plus the links, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            positions = self._insert_events(c, stored_events, **kwargs)
            tip = self.chain.append(c, self.dialect, stored_events, positions or [])
        self.chain.committed(tip)
        return positions


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder, plus the chain link of every event
    (written after the table lock that orders the log)."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        if datastore.enable_db_functions:
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS bypasses the hash chain")
        super().__init__(datastore, **kwargs)
        self.chain = ChainWriter()
        self.dialect = Dialect(postgres=True, schema=datastore.schema)
        self.sql_create_statements.extend(
            pg_sql.Composed([pg_sql.SQL(s)])
            for s in [
                *chain_table_statements(self.dialect),
                *tree_table_statements(self.dialect),
            ]
        )

    def catch_up_tree(self) -> None:
        """Gives the Merkle tree the leaves it lacks (a store made before it),
        under the lock that orders the log."""
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            for statement in self.lock_table_statements:
                curs.execute(statement, prepare=False)
            self.chain.append(curs, self.dialect, [], [])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """eventsourcing's insert plus the links, in one transaction that any error
        rolls back. (eventsourcing's own insert_events catches errors inside its
        transaction and commits before raising them: events without links.)"""
        with (
            self.datastore.get_connection() as conn,
            conn.pipeline() as pipeline,
            conn.transaction(),
        ):
            with conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return []
            with conn.cursor() as curs:
                self._insert_stored_events(curs, stored_events, **kwargs)
                pipeline.sync()  # a version conflict raises here
                positions = self._fetch_ids_after_insert_events(
                    curs, stored_events, **kwargs
                )
                tip = self.chain.append(
                    curs, self.dialect, stored_events, positions or []
                )
        self.chain.committed(tip)
        return positions


@dataclass(frozen=True)
class Link:
    position: int
    originator_id: str
    version: int
    hash: str
    prev_hash: str


@dataclass(frozen=True)
class Verification:
    """What verify found: whether the chain and the tree hold, how many events
    checked out, and the first bad position or tree node (level, index).
    hash_at and root_at are what the events themselves make (recomputed, not
    read) at the position and size asked for, if the log checks out that far."""

    ok: bool
    events_checked: int
    first_bad: int | None
    first_bad_node: tuple[int, int] | None = None
    hash_at: str | None = None
    root_at: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "first_bad": self.first_bad,
            # Not checked (None) once the chain is broken.
            "tree_ok": None
            if self.first_bad is not None
            else self.first_bad_node is None,
            "first_bad_node": self.first_bad_node,
        }


class Ledger:
    """Reads and checks the chain beside the application's event log."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.tables = tables_of(recorder)
        self.tree = MerkleTree(self.tables)

    def vacuum(self) -> None:
        """After a bulk write (an import), the log's tables vacuumed and
        analysed (vacuum_analyse): a proof then reads the tree's index alone."""
        vacuum_analyse(self.tables, [self.recorder.events_table_name, CHAIN, TREE])

    def head(self) -> Link | None:
        rows = self.tables.query(
            "SELECT * FROM {c} ORDER BY position DESC LIMIT 1", c=CHAIN
        )
        return _link(rows[0]) if rows else None

    def size(self) -> int:
        """How many events the log holds (one link each): what verify checks,
        export writes and a rebuild replays. The newest position is no count:
        PostgreSQL's sequence leaves a gap for each insert it refused."""
        rows = self.tables.query("SELECT COUNT(*) AS n FROM {c}", c=CHAIN)
        return int(rows[0]["n"])

    def links_of(self, originator_id: UUID) -> list[Link]:
        rows = self.tables.query(
            "SELECT * FROM {c} WHERE originator_id = ? ORDER BY version",
            [str(originator_id)],
            c=CHAIN,
        )
        return [_link(row) for row in rows]

    def recorded(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Those of the ids that have events in the log, BATCH ids per query."""
        found: set[UUID] = set()
        for start in range(0, len(originator_ids), BATCH):
            chunk = [str(i) for i in originator_ids[start : start + BATCH]]
            rows = self.tables.query(
                "SELECT DISTINCT originator_id FROM {c} "
                f"WHERE version = 1 AND originator_id IN ({','.join('?' * len(chunk))})",
                chunk,
                c=CHAIN,
            )
            found.update(UUID(row["originator_id"]) for row in rows)
        return found

    def tree_is_behind(self) -> bool:
        """Whether the Merkle tree lacks leaves the chain has (a store made before
        the tree, until catch_up_tree() or the next insert)."""
        head = self.head()
        with self.tables.cursor() as c:
            _, tree_position = tree_head(c, self.tables.dialect)
        return head is not None and head.position != tree_position

    def leaves(self, start: int, limit: int) -> list[tuple[int, str]]:
        """(index, chain hash) of the tree's leaves from index start, in order."""
        rows = self.tables.query(
            "SELECT t.idx, c.hash FROM {t} t JOIN {c} c ON c.position = t.position "
            "WHERE t.level = 0 AND t.idx >= ? ORDER BY t.idx LIMIT ?",
            [start, limit],
            t=TREE,
            c=CHAIN,
        )
        return [(row["idx"], row["hash"]) for row in rows]

    def leaf_of(self, originator_id: UUID, version: int) -> int | None:
        """The leaf index of an event of the log, or None."""
        rows = self.tables.query(
            "SELECT t.idx FROM {c} c JOIN {t} t ON t.position = c.position "
            "WHERE c.originator_id = ? AND c.version = ?",
            [str(originator_id), version],
            t=TREE,
            c=CHAIN,
        )
        return rows[0]["idx"] if rows else None

    def leaf(self, originator_id: UUID, version: int) -> tuple[int, str] | None:
        """(leaf index, chain hash) of an event of the log, or None; an event
        this process wrote lately is answered from memory."""
        chain: ChainWriter | None = getattr(self.recorder, "chain", None)
        if chain is not None and (
            known := chain.recent_leaves.get(originator_id, version)
        ):
            return known
        rows = self.tables.query(
            "SELECT t.idx, c.hash FROM {c} c JOIN {t} t ON t.position = c.position "
            "WHERE c.originator_id = ? AND c.version = ? AND t.level = 0",
            [str(originator_id), version],
            t=TREE,
            c=CHAIN,
        )
        return (rows[0]["idx"], rows[0]["hash"]) if rows else None

    def link_at(self, position: int) -> Link | None:
        rows = self.tables.query(
            "SELECT * FROM {c} WHERE position = ?", [position], c=CHAIN
        )
        return _link(rows[0]) if rows else None

    def links(self, after: int = 0, until: int | None = None) -> Iterator[Link]:
        """Every link after a position (up to until), in order, a batch at a time."""
        bound, bounds = ("", []) if until is None else (" AND position <= ?", [until])
        while True:
            rows = self.tables.query(
                f"SELECT * FROM {{c}} WHERE position > ?{bound} "
                "ORDER BY position LIMIT ?",
                [after, *bounds, BATCH],
                c=CHAIN,
            )
            for row in rows:
                yield _link(row)
            if len(rows) < BATCH:
                return
            after = rows[-1]["position"]

    def events(self, after: int = 0, until: int | None = None) -> Iterator[Any]:
        """Every stored event after a position (up to until), in order, a batch
        at a time."""
        while True:
            batch = self.recorder.select_notifications(
                start=after, limit=BATCH, stop=until, inclusive_of_start=False
            )
            yield from batch
            if len(batch) < BATCH:
                return
            after = batch[-1].id

    def verify(
        self, *, hash_at: int | None = None, root_at: int | None = None
    ) -> Verification:
        """Recomputes the chain over the stored events and checks that each
        link's own columns are its event's, that every aggregate's versions run
        1, 2, 3... once each in log order, and (SQLite) that every stored id is
        in the one spelling eventsourcing writes; names the first bad position.
        Then checks every stored node of the Merkle tree against the chain
        (check_stored_tree), since checkpoints, proofs and receipts are read
        from the tree. The log is checked up to its head as read first: events
        written meanwhile are the next check's.

        hash_at and root_at: a position whose hash, and a size whose root, to
        recompute on the way (see Verification)."""
        head = self.head()  # an event without its link is found too:
        until = max(
            head.position if head else 0, self.recorder.max_notification_id() or 0
        )
        prev, checked = GENESIS, 0
        events, links = self.events(until=until), self.links(until=until)
        noncanonical = self.first_noncanonical_id()
        versions: dict[str, int] = {}
        running, found_hash, found_root = RunningRoot(), None, None
        if root_at == 0:
            found_root = running.root()
        while True:
            event, link = next(events, None), next(links, None)
            if event is None and link is None:
                break
            if event is None or link is None or event.id != link.position:
                positions = [
                    x
                    for x in (
                        getattr(event, "id", None),
                        getattr(link, "position", None),
                    )
                    if x
                ]
                return Verification(False, checked, min(positions))
            expected = chain_hash(
                prev,
                event.id,
                event.originator_id,
                event.originator_version,
                event.topic,
                event.state,
            )
            originator = str(event.originator_id)
            if (
                link.prev_hash != prev
                or link.hash != expected
                or link.originator_id != originator
                or link.version != event.originator_version
                or event.originator_version != versions.get(originator, 0) + 1
                or event.id == noncanonical
            ):
                return Verification(False, checked, event.id)
            versions[originator] = event.originator_version
            prev = link.hash
            checked += 1
            running.append(bytes.fromhex(expected))
            if event.id == hash_at:
                found_hash = expected
            if running.size == root_at:
                found_root = running.root()
        leaves = (
            (link.position, bytes.fromhex(link.hash))
            for link in self.links(until=until)
        )
        bad_node = check_stored_tree(self.tables, leaves, checked)
        return Verification(
            bad_node is None, checked, None, bad_node, found_hash, found_root
        )

    def first_noncanonical_id(self) -> int | None:
        """The first position whose stored id is not spelled as eventsourcing
        writes it (32 lower-case hex digits): eventsourcing finds events by the
        exact text, so another spelling hides an event while the chain, which
        hashes the parsed id, still holds. PostgreSQL stores ids as uuid."""
        if self.tables.dialect.postgres:
            return None
        rows = self.tables.query(
            "SELECT MIN(rowid) AS position FROM {e} WHERE length(originator_id) != 32 "
            "OR originator_id GLOB '*[^0-9a-f]*'",
            e=self.recorder.events_table_name,
        )
        return rows[0]["position"] if rows else None


def _link(row: Any) -> Link:
    return Link(
        row["position"],
        row["originator_id"],
        row["version"],
        row["hash"],
        row["prev_hash"],
    )


class StoredCheckpoint:
    """The newest signed checkpoint, kept in the store for every process of the
    log (checkpoints.SharedCheckpoint)."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def kept(self) -> KeptNote | None:
        rows = self.tables.query(
            "SELECT signer, size, note, signed_us FROM {k} WHERE id = 1",
            k=CHECKPOINT,
        )
        if not rows:
            return None
        row = rows[0]
        return KeptNote(
            row["signer"], int(row["size"]), row["note"], int(row["signed_us"])
        )

    def keep(self, note: KeptNote) -> None:
        """Keeps a newly signed checkpoint unless one of a larger tree by the
        same signer is kept already (another signer's is always replaced). A
        read-only store (a hot standby) keeps none: each process then serves
        its own. Any other refusal (locked, full, unreachable) is raised: a
        note no other process can see must not be served."""
        try:
            self._replace(note)
        except Exception as error:
            if not read_only(error):
                raise

    def _replace(self, note: KeptNote) -> None:
        self.tables.execute(
            "INSERT INTO {k} AS held (id, signer, size, note, signed_us) "
            "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "signer = excluded.signer, size = excluded.size, "
            "note = excluded.note, signed_us = excluded.signed_us "
            "WHERE excluded.signer <> held.signer OR excluded.size >= held.size",
            [note.signer, note.size, note.note, note.signed_us],
            k=CHECKPOINT,
        )
