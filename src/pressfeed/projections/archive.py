"""RFC 5005 archive: every publication numbered in the order it happened, in
pages of 50. A page closes when its fiftieth statement is published; from then
on its entries stay as they were when it closed, except that a retraction
still replaces a statement's text with the withdrawal notice."""

from __future__ import annotations

from typing import Any

from pressfeed.aggregates import Statement
from pressfeed.projections.base import (
    BatchOutcome,
    Change,
    ReadModel,
    View,
    load_document,
    with_documents,
)
from pressfeed.representation import StatementDocument
from pressfeed.storage import Dialect

TABLE = "pf_archive_entries"  # written; a NULL document is the catalogue's
READ = "pf_archive"  # the SQL view readers read: every entry with its document
READ_COLUMNS = ("language", "seq", "statement_id", "document")
PAGE_SIZE = 50
# The number of the last entry in a closed page of one language (the one
# parameter), as SQL over a numbered table {e}.
LAST_CLOSED_SEQ = (
    f"(SELECT COALESCE(MAX(seq), 0) / {PAGE_SIZE} * {PAGE_SIZE} FROM {{e}} "
    "WHERE language = ?)"
)


class ArchiveView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        return [
            dialect.sql(
                "CREATE TABLE IF NOT EXISTS {t} (language TEXT NOT NULL, "
                "seq INTEGER NOT NULL, statement_id TEXT NOT NULL UNIQUE, "
                "document TEXT, PRIMARY KEY (language, seq))",
                t=TABLE,
            )
        ]

    def readings(self, dialect: Dialect) -> dict[str, str]:
        return {READ: with_documents(dialect, TABLE, READ_COLUMNS)}

    def apply_final(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """Numbers the batch's publications in the log's order, a run at a
        time; later changes to a public statement rewrite its entry.

        An entry that stores no document of its own shows the catalogue's
        (the statement's current one): while its page is open, or until the
        statement changes. When it changes, an entry of a closed page keeps
        the document it had, the one before the change."""
        published: list[tuple[str, str, str | None, str]] = []
        before: dict[Any, Change | str] = dict(batch.documents_before)
        for change in batch.changes:
            event, after = change.event, change.after
            previous = before.get(after.id)
            before[after.id] = change
            if isinstance(event, Statement.Published):
                kept = batch.kept_document(change)
                published.append((after.language, str(after.id), kept, after.language))
                continue
            retracted = isinstance(event, Statement.Retracted)
            if not (retracted or after.was_public):
                continue
            self._number(cursor, dialect, published)
            published = []
            kept = batch.kept_document(change)
            if retracted:
                self._rewrite_all(cursor, dialect, after, kept)
                continue
            if previous is not None:
                document = previous if isinstance(previous, str) else previous.document
                self._keep_closed(cursor, dialect, after, document)
            self._rewrite_open(cursor, dialect, after, kept)
        self._number(cursor, dialect, published)

    @staticmethod
    def _number(cursor: Any, dialect: Dialect, published: list[Any]) -> None:
        """Each publication takes the next number of its language, in turn."""
        if published:
            cursor.executemany(
                dialect.sql(
                    "INSERT INTO {t} (language, seq, statement_id, document) "
                    "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM {t} "
                    "WHERE language = ?",
                    t=TABLE,
                ),
                published,
            )

    @staticmethod
    def _rewrite_all(
        cursor: Any, dialect: Dialect, statement: Statement, document: str | None
    ) -> None:
        """A withdrawal replaces the text of its entry, open or closed."""
        cursor.execute(
            dialect.sql("UPDATE {t} SET document = ? WHERE statement_id = ?", t=TABLE),
            (document, str(statement.id)),
        )

    @staticmethod
    def _keep_closed(
        cursor: Any, dialect: Dialect, statement: Statement, document: str
    ) -> None:
        """An entry of a closed page that showed the catalogue's document
        keeps it (the document before the change)."""
        cursor.execute(
            dialect.sql(
                "UPDATE {t} SET document = ? WHERE statement_id = ? "
                f"AND document IS NULL AND seq <= {LAST_CLOSED_SEQ}",
                t=TABLE,
                e=TABLE,
            ),
            (document, str(statement.id), statement.language),
        )

    @staticmethod
    def _rewrite_open(
        cursor: Any, dialect: Dialect, statement: Statement, document: str | None
    ) -> None:
        """An entry of the open page shows the statement as it now stands."""
        cursor.execute(
            dialect.sql(
                f"UPDATE {{t}} SET document = ? WHERE statement_id = ? "
                f"AND seq > {LAST_CLOSED_SEQ}",
                t=TABLE,
                e=TABLE,
            ),
            (document, str(statement.id), statement.language),
        )


def closed_page_count(views: ReadModel, language: str, table: str = TABLE) -> int:
    """How many pages of a language's numbered entries are full (closed), in
    this archive or another numbered alike (seq per language)."""
    rows = views.query(
        "SELECT COALESCE(MAX(seq), 0) AS n FROM {t} WHERE language = ?",
        [language],
        t=table,
    )
    return int(rows[0]["n"]) // PAGE_SIZE


def archive_page(
    views: ReadModel, number: int, language: str
) -> list[StatementDocument]:
    """The statements of a language's closed page number (1-based), oldest first."""
    first = (number - 1) * PAGE_SIZE + 1
    rows = views.query(
        "SELECT document FROM {t} WHERE language = ? AND seq BETWEEN ? AND ? "
        "ORDER BY seq",
        [language, first, first + PAGE_SIZE - 1],
        t=READ,
    )
    return [load_document(row["document"]) for row in rows]


def open_page(views: ReadModel, language: str) -> list[StatementDocument]:
    """The statements published since the last closed page, oldest first: the
    subscription feed must carry them (RFC 5005), whatever their dates."""
    rows = views.query(
        f"SELECT document FROM {{t}} WHERE language = ? AND seq > {LAST_CLOSED_SEQ} "
        "ORDER BY seq",
        [language, language],
        t=READ,
        e=TABLE,
    )
    return [load_document(row["document"]) for row in rows]
