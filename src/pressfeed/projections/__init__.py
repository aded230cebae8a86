"""Materialised views of the event log, and the worker that keeps them current."""

from __future__ import annotations

from typing import cast

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from pressfeed.application import PressOffice
from pressfeed.config import Settings
from pressfeed.projections.archive import ArchiveView
from pressfeed.projections.base import PostgresReadModel, ReadModel, SQLiteReadModel
from pressfeed.projections.catalogue import CatalogueView
from pressfeed.projections.changes import PublicChangesView
from pressfeed.projections.front_page import FrontPageView
from pressfeed.projections.schedule import ScheduleView
from pressfeed.projections.search import SearchView
from pressfeed.projections.websub import WebSubOutboxView

VIEWS = (
    CatalogueView(),
    PublicChangesView(),
    ArchiveView(),
    WebSubOutboxView(),
    ScheduleView(),
    FrontPageView(),
    SearchView(),  # after the catalogue, whose rows it refers to
)
SCHEMA_VERSION = 11  # raise when a view's tables change: the views are then rebuilt


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
    views = cast(ReadModel, factory.tracking_recorder(view_class))
    views.ensure_schema(PressOffice.name, SCHEMA_VERSION)
    if not settings.websub_hubs:  # no hub to ping: keep no outbox
        views.views = tuple(v for v in VIEWS if not isinstance(v, WebSubOutboxView))
    return views
