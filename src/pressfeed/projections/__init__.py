"""Materialised views of the event log, and the worker that keeps them current."""

from __future__ import annotations

from typing import cast

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from pressfeed.application import PressOffice
from pressfeed.config import Settings
from pressfeed.projections.archive import ArchiveView
from pressfeed.projections.base import (
    PostgresReadModel,
    ReadModel,
    SQLiteReadModel,
    View,
)
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
SCHEMA_VERSION = 20  # raise when what a view holds changes: the views are then rebuilt


def views_for(settings: Settings) -> tuple[View, ...]:
    """The views as the settings make them: the catalogue counts in the
    configured time zone, and no WebSub outbox without a hub to ping."""
    return tuple(
        CatalogueView(settings.timezone) if isinstance(v, CatalogueView) else v
        for v in VIEWS
        if settings.websub_hubs or not isinstance(v, WebSubOutboxView)
    )


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
    views.views = views_for(settings)
    return views
