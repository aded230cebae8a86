"""RFC 5005 archive: every publication numbered in the order it happened, in
pages of 50. A page closes when its fiftieth statement is published; from then
on its entries stay as they were when it closed, except that a retraction
still replaces a statement's text with the withdrawal notice."""

from __future__ import annotations

from typing import Any

from pressfeed.aggregates import Statement
from pressfeed.projections.base import Change, ReadModel, View, load_document
from pressfeed.representation import StatementDocument
from pressfeed.storage import Dialect

TABLE = "pf_archive"
PAGE_SIZE = 50
# The number of the last entry in a closed page, as SQL over the table.
LAST_CLOSED_SEQ = (
    f"(SELECT COALESCE(MAX(seq), 0) / {PAGE_SIZE} * {PAGE_SIZE} FROM {{t}})"
)


class ArchiveView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        return [
            dialect.sql(
                "CREATE TABLE IF NOT EXISTS {t} (seq INTEGER PRIMARY KEY, "
                "statement_id TEXT NOT NULL UNIQUE, document TEXT NOT NULL)",
                t=TABLE,
            )
        ]

    def apply(self, cursor: Any, dialect: Dialect, change: Change) -> None:
        event, after = change.event, change.after
        if isinstance(event, Statement.Published):
            cursor.execute(
                dialect.sql(
                    "INSERT INTO {t} (seq, statement_id, document) "
                    "SELECT COALESCE(MAX(seq), 0) + 1, ?, ? FROM {t}",
                    t=TABLE,
                ),
                (str(after.id), change.document),
            )
        elif isinstance(event, Statement.Retracted):
            self._update(
                cursor, dialect, str(after.id), change.document, closed_too=True
            )
        elif after.was_public:
            self._update(
                cursor, dialect, str(after.id), change.document, closed_too=False
            )

    @staticmethod
    def _update(
        cursor: Any,
        dialect: Dialect,
        statement_id: str,
        document: str,
        closed_too: bool,
    ) -> None:
        open_page_only = "" if closed_too else f" AND seq > {LAST_CLOSED_SEQ}"
        cursor.execute(
            dialect.sql(
                "UPDATE {t} SET document = ? WHERE statement_id = ?" + open_page_only,
                t=TABLE,
            ),
            (document, statement_id),
        )


def closed_page_count(views: ReadModel) -> int:
    rows = views.query("SELECT COALESCE(MAX(seq), 0) AS n FROM {t}", t=TABLE)
    return int(rows[0]["n"]) // PAGE_SIZE


def archive_page(views: ReadModel, number: int) -> list[StatementDocument]:
    """The statements of closed page number (1-based), oldest first."""
    first = (number - 1) * PAGE_SIZE + 1
    rows = views.query(
        "SELECT document FROM {t} WHERE seq BETWEEN ? AND ? ORDER BY seq",
        [first, first + PAGE_SIZE - 1],
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]


def open_page(views: ReadModel) -> list[StatementDocument]:
    """The statements published since the last closed page, oldest first: the
    subscription feed must carry them (RFC 5005), whatever their dates."""
    rows = views.query(
        f"SELECT document FROM {{t}} WHERE seq > {LAST_CLOSED_SEQ} ORDER BY seq",
        t=TABLE,
    )
    return [load_document(row["document"]) for row in rows]
