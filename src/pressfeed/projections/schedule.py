"""The schedule: statements waiting for their embargo, and when. The scheduler
follows this view, so it can never disagree with the event log. An embargoed
statement in review (its text changed after its approval) is held out of it
until a publisher approves it again."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pressfeed.aggregates import SCHEDULED
from pressfeed.projections.base import Change, ReadModel, View
from pressfeed.storage import Dialect
from pressfeed.times import from_micros, optional_micros

TABLE = "pf_schedule"


class ScheduleView(View):
    tables = (TABLE,)

    def create_statements(self, dialect: Dialect) -> list[str]:
        d = dialect
        return [
            d.sql(
                "CREATE TABLE IF NOT EXISTS {t} (statement_id TEXT PRIMARY KEY, "
                f"publish_at_us {d.bigint} NOT NULL)",
                t=TABLE,
            )
        ]

    def apply(self, cursor: Any, dialect: Dialect, change: Change) -> None:
        after = change.after
        if after.status == SCHEDULED and not after.in_review:
            cursor.execute(
                dialect.sql(
                    "INSERT INTO {t} (statement_id, publish_at_us) VALUES (?, ?) "
                    "ON CONFLICT (statement_id) DO UPDATE "
                    "SET publish_at_us = excluded.publish_at_us",
                    t=TABLE,
                ),
                (str(after.id), optional_micros(after.publish_at)),
            )
        elif change.before is not None and change.before.status == SCHEDULED:
            cursor.execute(
                dialect.sql("DELETE FROM {t} WHERE statement_id = ?", t=TABLE),
                (str(after.id),),
            )


def scheduled_statements(views: ReadModel) -> dict[UUID, datetime]:
    """Every statement waiting for its embargo, with the embargo time."""
    rows = views.query("SELECT statement_id, publish_at_us FROM {t}", t=TABLE)
    return {
        UUID(row["statement_id"]): from_micros(row["publish_at_us"]) for row in rows
    }
