"""The catalogue: one row per statement with its current representation.

Serves the publisher's list of statements (any status) and, through the public
queries, every published statement by slug.
"""

from __future__ import annotations

import json
from typing import Any

from pressfeed.projections.base import Change, ReadModel, View, json_dumps
from pressfeed.representation import statement_document
from pressfeed.storage import Dialect

TABLE = "pf_catalogue"


class CatalogueView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        d = dialect
        return [
            d.sql(
                "CREATE TABLE IF NOT EXISTS {t} ("
                "id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
                f"status TEXT NOT NULL, created_position {d.bigint} NOT NULL, "
                "version INTEGER NOT NULL, document TEXT NOT NULL)",
                t=TABLE,
            ),
            d.sql(
                "CREATE INDEX IF NOT EXISTS pf_catalogue_by_position "
                "ON {t} (created_position)",
                t=TABLE,
            ),
        ]

    def apply(self, cursor: Any, dialect: Dialect, change: Change) -> None:
        after = change.after
        cursor.execute(
            dialect.sql(
                "INSERT INTO {t} (id, slug, kind, status, created_position, version, "
                "document) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
                "status = excluded.status, version = excluded.version, "
                "document = excluded.document",
                t=TABLE,
            ),
            (
                str(after.id),
                after.slug,
                after.kind,
                after.status,
                change.position,
                after.version,
                json_dumps(statement_document(after)),
            ),
        )


def list_statements(
    views: ReadModel,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 20,
    before_position: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; returns the page and the position to continue before, if any."""
    where, params = [], []
    for column, value in (("status", status), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if before_position is not None:
        where.append("created_position < ?")
        params.append(before_position)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    rows = views.query(
        "SELECT created_position, document FROM {t} "
        f"{clause}ORDER BY created_position DESC LIMIT ?",
        [*params, limit + 1],
        t=TABLE,
    )
    page = [json.loads(row["document"]) for row in rows[:limit]]
    more = len(rows) > limit
    return page, (rows[limit - 1]["created_position"] if more else None)
