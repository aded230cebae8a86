"""Public changes: one row per publication, major amendment or retraction of a
public statement, with its change note or reason and the diff. Feeds
/feeds/changes.atom, for those who follow corrections.

Each change is numbered in its language (seq) in the order it was recorded,
for RFC 5005 archive pages of 50 (/feeds/changes/archive/N.atom): a reader
who was away during a burst of more than a feed's worth of changes finds
the ones it missed there, not only the newest 50."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pressfeed.aggregates import PUBLISHED, Statement
from pressfeed.projections.archive import (
    LAST_CLOSED_SEQ,
    PAGE_SIZE,
    closed_page_count,
)
from pressfeed.projections.base import (
    BatchOutcome,
    Change,
    ReadModel,
    View,
    load_document,
    with_documents,
)
from pressfeed.representation import (
    PublicChange,
    StatementDocument,
    is_withdrawn,
    publication_diff,
    statement_diff,
)
from pressfeed.storage import Dialect
from pressfeed.times import micros

TABLE = "pf_change_entries"  # written; a NULL document is the catalogue's
READ = "pf_public_changes"  # the SQL view readers read: every change with its document
READ_COLUMNS = (
    "position",
    "statement_id",
    "version",
    "what",
    "at_us",
    "note",
    "diff",
    "document",
    "language",
    "seq",
)


What = Literal["published", "amended", "retracted"]


def public_change(change: Change) -> tuple[What, str] | None:
    """(what, note) if the event changed what the public sees, else None."""
    event, before = change.event, change.before
    if isinstance(event, Statement.Published):
        return "published", ""
    if isinstance(event, Statement.Amended):
        was_public = before is not None and before.status == PUBLISHED
        return (
            ("amended", event.change_note) if was_public and not event.minor else None
        )
    if isinstance(event, Statement.Retracted) and change.after.was_public:
        return "retracted", event.reason
    return None


class PublicChangesView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        d = dialect
        return [
            d.sql(
                "CREATE TABLE IF NOT EXISTS {t} ("
                f"position {d.bigint} PRIMARY KEY, statement_id TEXT NOT NULL, "
                f"version INTEGER NOT NULL, what TEXT NOT NULL, at_us {d.bigint} NOT NULL, "
                "note TEXT NOT NULL, diff TEXT NOT NULL, document TEXT, "
                "language TEXT NOT NULL, seq INTEGER NOT NULL)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {d.index('pf_change_entries_by_seq')} "
                "ON {t} (language, seq)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_change_entries_by_language')} "
                "ON {t} (language, at_us, position)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_change_entries_by_time')} "
                "ON {t} (at_us, position)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_change_entries_by_what')} "
                "ON {t} (what, at_us)",
                t=TABLE,
            ),
            d.sql(
                f"CREATE INDEX IF NOT EXISTS {d.index('pf_change_entries_by_statement')} "
                "ON {t} (statement_id)",
                t=TABLE,
            ),
        ]

    def readings(self, dialect: Dialect) -> dict[str, str]:
        return {READ: with_documents(dialect, TABLE, READ_COLUMNS)}

    def apply_final(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """A row per public change of the batch, in the log's order, written a
        run at a time (a withdrawal rewrites the rows before it first). First,
        the rows that stored no document of their own (the catalogue's) get
        the one the catalogue is about to replace."""
        self._keep_documents_before(cursor, dialect, batch)
        rows: list[tuple[Any, ...]] = []
        for change in batch.changes:
            found = public_change(change)
            if found is None:
                continue
            what, note = found
            if what == "retracted":
                self._insert(cursor, dialect, rows)
                rows = []
                self._withdraw_earlier_changes(
                    cursor, dialect, str(change.after.id), batch.kept_document(change)
                )
            rows.append(self._row(change, what, note, batch.kept_document(change)))
        self._insert(cursor, dialect, rows)

    @staticmethod
    def _keep_documents_before(
        cursor: Any, dialect: Dialect, batch: BatchOutcome
    ) -> None:
        cursor.executemany(
            dialect.sql(
                "UPDATE {t} SET document = ? WHERE statement_id = ? "
                "AND document IS NULL",
                t=TABLE,
            ),
            [
                (document, str(statement_id))
                for statement_id, document in batch.documents_before.items()
            ],
        )

    @staticmethod
    def _row(
        change: Change, what: What, note: str, document: str | None
    ) -> tuple[Any, ...]:
        after = change.after
        at = {
            "published": after.published_at,
            "amended": after.updated_at,
            "retracted": after.retracted_at,
        }[what] or after.updated_at
        diff = (
            statement_diff(change.before, after, after.version)
            if what == "amended"
            else ""  # a publication's diff is its whole text: made when read
        )
        return (
            change.position,
            str(after.id),
            after.version,
            what,
            micros(at),
            note,
            diff,
            document,
            after.language,
            after.language,
        )

    @staticmethod
    def _insert(cursor: Any, dialect: Dialect, rows: list[tuple[Any, ...]]) -> None:
        """Inserts rows in turn, each taking the next number of its language."""
        if rows:
            cursor.executemany(
                dialect.sql(
                    "INSERT INTO {t} (position, statement_id, version, what, at_us, "
                    "note, diff, document, language, seq) "
                    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(MAX(seq), 0) + 1 "
                    "FROM {t} WHERE language = ?",
                    t=TABLE,
                ),
                rows,
            )

    @staticmethod
    def _withdraw_earlier_changes(
        cursor: Any, dialect: Dialect, statement_id: str, document: str | None
    ) -> None:
        """A retraction takes the text out of the statement's earlier changes too."""
        cursor.execute(
            dialect.sql(
                "UPDATE {t} SET diff = '', document = ? WHERE statement_id = ?", t=TABLE
            ),
            (document, statement_id),
        )


COLUMNS = "position, version, what, at_us, note, diff, document"


def latest_changes(
    views: ReadModel,
    limit: int = 50,
    language: str | None = None,
    open_page_of: str | None = None,
) -> list[PublicChange]:
    """The newest public changes by when they happened, of one language if
    given: a back-dated import takes its place in the past instead of pushing
    the office's latest changes out of the feed. With open_page_of, also the
    changes of that language no closed archive page holds yet, so that the
    feed and its archive together hold every change (RFC 5005)."""
    condition, params = ("WHERE language = ? ", [language]) if language else ("", [])
    rows = views.query(
        f"SELECT {COLUMNS} FROM {{t}} "
        f"{condition}ORDER BY at_us DESC, position DESC LIMIT ?",
        [*params, limit],
        t=READ,
    )
    if open_page_of is not None:
        rows += views.query(
            f"SELECT {COLUMNS} FROM {{t}} WHERE language = ? "
            f"AND seq > {LAST_CLOSED_SEQ}",
            [open_page_of, open_page_of],
            t=READ,
            e=TABLE,
        )
    newest = {row["position"]: row for row in rows}.values()
    ordered = sorted(newest, key=lambda r: (r["at_us"], r["position"]), reverse=True)
    return [_public_change(row) for row in ordered]


def closed_change_pages(views: ReadModel, language: str) -> int:
    """How many archive pages of a language's changes are full (closed)."""
    return closed_page_count(views, language, TABLE)


def change_archive_page(
    views: ReadModel, number: int, language: str
) -> list[PublicChange]:
    """The changes of a language's closed page number (1-based), newest first."""
    first = (number - 1) * PAGE_SIZE + 1
    rows = views.query(
        f"SELECT {COLUMNS} FROM {{t}} WHERE language = ? AND seq BETWEEN ? AND ? "
        "ORDER BY seq DESC",
        [language, first, first + PAGE_SIZE - 1],
        t=READ,
    )
    return [_public_change(row) for row in rows]


def rewritten_by_withdrawal(
    views: ReadModel, since: datetime, language: str | None = None
) -> list[PublicChange]:
    """The earlier changes of statements withdrawn since a time: the changes feed
    rewrote them, and keeps a tombstone for each. Of one language if given."""
    condition, params = ("AND language = ? ", [language]) if language else ("", [])
    rows = views.query(
        f"SELECT {COLUMNS} FROM {{t}} "
        f"WHERE what <> 'retracted' {condition}AND statement_id IN "
        "(SELECT statement_id FROM {e} WHERE what = 'retracted' AND at_us >= ?) "
        "ORDER BY position DESC",
        [*params, micros(since)],
        t=READ,
        e=TABLE,
    )
    return [_public_change(row) for row in rows]


def _public_change(row: Any) -> PublicChange:
    document = load_document(row["document"])
    return {
        "position": row["position"],
        "version": row["version"],
        "what": row["what"],
        "note": row["note"],
        "diff": _diff_of(row, document),
        "statement": document,
    }


def _diff_of(row: Any, document: StatementDocument) -> str:
    """The stored diff; a publication's is made from its text unless withdrawn."""
    if row["what"] == "published" and not is_withdrawn(document):
        return publication_diff(document)
    return str(row["diff"])
