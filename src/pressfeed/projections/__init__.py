"""Materialised views of the event log, and the worker that keeps them current."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from pressfeed.config import Settings
from pressfeed.projections.base import PostgresReadModel, ReadModel, SQLiteReadModel
from pressfeed.projections.catalogue import CatalogueView

VIEWS = (CatalogueView(),)


class SQLiteViews(SQLiteReadModel):
    views = VIEWS


class PostgresViews(PostgresReadModel):
    views = VIEWS


def open_views(settings: Settings) -> ReadModel:
    """The read model on the configured store, its tables created if missing."""
    factory = InfrastructureFactory.construct(
        Environment("views", settings.eventsourcing_env())
    )
    view_class = PostgresViews if settings.uses_postgres else SQLiteViews
    return factory.tracking_recorder(view_class)  # type: ignore[arg-type]
