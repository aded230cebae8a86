"""RFC 5005 archive: every publication numbered in the order it happened, in
pages of 50. A page closes when its fiftieth statement is published; from then
on its entries stay as they were when it closed, except that a retraction
still replaces a statement's text with the withdrawal notice."""

from __future__ import annotations

from typing import Any

from pressfeed.aggregates import Statement
from pressfeed.projections.base import BatchOutcome, ReadModel, View, load_document
from pressfeed.representation import StatementDocument
from pressfeed.storage import Dialect

TABLE = "pf_archive"
PAGE_SIZE = 50
# The number of the last entry in a closed page of one language (the one
# parameter), as SQL over the table.
LAST_CLOSED_SEQ = (
    f"(SELECT COALESCE(MAX(seq), 0) / {PAGE_SIZE} * {PAGE_SIZE} FROM {{t}} "
    "WHERE language = ?)"
)


class ArchiveView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        return [
            dialect.sql(
                "CREATE TABLE IF NOT EXISTS {t} (language TEXT NOT NULL, "
                "seq INTEGER NOT NULL, statement_id TEXT NOT NULL UNIQUE, "
                "document TEXT NOT NULL, PRIMARY KEY (language, seq))",
                t=TABLE,
            )
        ]

    def apply_final(self, cursor: Any, dialect: Dialect, batch: BatchOutcome) -> None:
        """Numbers the batch's publications in the log's order, a run at a
        time; later changes to a public statement rewrite its entry."""
        published: list[tuple[str, str, str, str]] = []
        for change in batch.changes:
            event, after = change.event, change.after
            if isinstance(event, Statement.Published):
                document = change.document
                published.append(
                    (after.language, str(after.id), document, after.language)
                )
                continue
            retracted = isinstance(event, Statement.Retracted)
            if not (retracted or after.was_public):
                continue
            self._number(cursor, dialect, published)
            published = []
            self._update(cursor, dialect, after, change.document, closed_too=retracted)
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
    def _update(
        cursor: Any,
        dialect: Dialect,
        statement: Statement,
        document: str,
        closed_too: bool,
    ) -> None:
        if closed_too:
            query, params = "", []
        else:
            query, params = f" AND seq > {LAST_CLOSED_SEQ}", [statement.language]
        cursor.execute(
            dialect.sql(
                "UPDATE {t} SET document = ? WHERE statement_id = ?" + query, t=TABLE
            ),
            (document, str(statement.id), *params),
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
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]


def open_page(views: ReadModel, language: str) -> list[StatementDocument]:
    """The statements published since the last closed page, oldest first: the
    subscription feed must carry them (RFC 5005), whatever their dates."""
    rows = views.query(
        f"SELECT document FROM {{t}} WHERE language = ? AND seq > {LAST_CLOSED_SEQ} "
        "ORDER BY seq",
        [language, language],
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]
