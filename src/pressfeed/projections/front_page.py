"""The front page: the statement a publisher featured, if any.

Featuring is recorded by the FrontPage aggregate; this view keeps its one row.
A featured statement that is no longer published (withdrawn) is not shown:
the front page then features the newest, as when nothing is featured.
"""

from __future__ import annotations

from typing import Any

from pressfeed.aggregates import FrontPage
from pressfeed.projections.base import ReadModel, View, load_document
from pressfeed.projections.catalogue import TABLE as CATALOGUE
from pressfeed.representation import StatementDocument
from pressfeed.storage import Dialect
from pressfeed.times import micros

TABLE = "pf_front_page"


class FrontPageView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        return [
            dialect.sql(
                "CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY, "
                f"statement_id TEXT, changed_us {dialect.bigint} NOT NULL)",
                t=TABLE,
            )
        ]

    def apply_front_page(self, cursor: Any, dialect: Dialect, event: Any) -> None:
        featured = None
        if isinstance(event, FrontPage.Featured):
            featured = str(event.statement_id)
        cursor.execute(
            dialect.sql(
                "INSERT INTO {t} (id, statement_id, changed_us) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET statement_id = excluded.statement_id, "
                "changed_us = excluded.changed_us",
                t=TABLE,
            ),
            (featured, micros(event.timestamp)),
        )


def featured_statement(views: ReadModel) -> StatementDocument | None:
    """The featured statement while it is published, else None."""
    rows = views.query(
        "SELECT c.document FROM {f} f JOIN {c} c ON c.id = f.statement_id "
        "WHERE f.id = 1 AND c.status = 'published'",
        f=TABLE,
        c=CATALOGUE,
    )
    return load_document(rows[0]["document"]) if rows else None
