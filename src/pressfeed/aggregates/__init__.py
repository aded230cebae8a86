"""Pure domain code: the Statement aggregate, its indexes and its rules. No I/O."""

from pressfeed.aggregates.errors import (
    AlreadyPublished,
    ChangeNoteRequired,
    EmbargoNotDue,
    EmbargoNotInFuture,
    NothingToAmend,
    NotScheduled,
    PublicationInFuture,
    StatementError,
    StatementRetracted,
)
from pressfeed.aggregates.indexes import CommandReceipt, SlugIndex
from pressfeed.aggregates.statement import AMENDABLE_FIELDS, ChangeNote, Statement

__all__ = [
    "AMENDABLE_FIELDS",
    "AlreadyPublished",
    "ChangeNote",
    "ChangeNoteRequired",
    "CommandReceipt",
    "EmbargoNotDue",
    "EmbargoNotInFuture",
    "NotScheduled",
    "NothingToAmend",
    "PublicationInFuture",
    "SlugIndex",
    "Statement",
    "StatementError",
    "StatementRetracted",
]
