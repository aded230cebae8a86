"""The front page: which published statement it features, if any.

One aggregate for the site, so featuring and unfeaturing are events in the log
like any change of a statement: chained, in the Merkle tree, in the audit.
While nothing is featured (or the featured statement is no longer public) the
front page shows the newest statement.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from pressfeed.aggregates.errors import NotPublished, StatementError
from pressfeed.aggregates.statement import PUBLISHED, Statement, utc

FRONT_PAGE_ID = uuid5(NAMESPACE_URL, "/pressfeed/front-page")


class NothingFeatured(StatementError):
    """The front page features no statement."""


class FrontPage(Aggregate):
    """The site's front page and the statement it features."""

    class Opened(Aggregate.Created):
        pass

    class Featured(Aggregate.Event):
        statement_id: UUID
        actor: str
        at: datetime

    class Unfeatured(Aggregate.Event):
        actor: str
        at: datetime

    @staticmethod
    def create_id() -> UUID:
        return FRONT_PAGE_ID

    @event(Opened)
    def __init__(self) -> None:
        self.featured: UUID | None = None

    @classmethod
    def opened(cls) -> FrontPage:
        return cls._create(cls.Opened, id=FRONT_PAGE_ID)

    def feature(self, statement: Statement, *, actor: str, now: datetime) -> None:
        """Puts a published statement first on the front page, in full."""
        if statement.status != PUBLISHED:
            raise NotPublished("Only a published statement can be featured.")
        self._feature(statement_id=statement.id, actor=actor, at=utc(now))

    def unfeature(self, *, actor: str, now: datetime) -> None:
        """Back to the newest statement first."""
        if self.featured is None:
            raise NothingFeatured("The front page features no statement.")
        self._unfeature(actor=actor, at=utc(now))

    @event(Featured)
    def _feature(self, *, statement_id: UUID, actor: str, at: datetime) -> None:
        self.featured = statement_id

    @event(Unfeatured)
    def _unfeature(self, *, actor: str, at: datetime) -> None:
        self.featured = None
