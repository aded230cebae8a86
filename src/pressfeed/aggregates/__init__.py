"""Pure domain code: the Statement aggregate, its indexes and its rules. No I/O."""

from pressfeed.aggregates.errors import (
    AlreadyPublished,
    ChangeNoteRequired,
    EmbargoNotDue,
    EmbargoNotInFuture,
    FieldNotAmendable,
    NothingToAmend,
    NotScheduled,
    PublicationInFuture,
    StatementError,
    StatementRetracted,
)
from pressfeed.aggregates.indexes import CommandReceipt, SlugIndex
from pressfeed.aggregates.statement import (
    AMENDABLE_FIELDS,
    DRAFT,
    PUBLISHED,
    RETRACTED,
    SCHEDULED,
    STATUSES,
    ChangeNote,
    Statement,
    Status,
)

__all__ = [
    "AMENDABLE_FIELDS",
    "DRAFT",
    "PUBLISHED",
    "RETRACTED",
    "SCHEDULED",
    "STATUSES",
    "AlreadyPublished",
    "ChangeNote",
    "ChangeNoteRequired",
    "CommandReceipt",
    "EmbargoNotDue",
    "EmbargoNotInFuture",
    "FieldNotAmendable",
    "NotScheduled",
    "NothingToAmend",
    "PublicationInFuture",
    "SlugIndex",
    "Statement",
    "StatementError",
    "StatementRetracted",
    "Status",
]
