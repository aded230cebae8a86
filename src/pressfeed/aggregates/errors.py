"""The press office's rules, each broken rule its own error."""


class StatementError(Exception):
    """A command the statement's rules refuse."""


class StatementRetracted(StatementError):
    """A retracted statement takes no further command."""


class AlreadyPublished(StatementError):
    """Only a draft or a scheduled statement can be published or scheduled."""


class NotScheduled(StatementError):
    """Only a scheduled statement has an embargo to cancel."""


class ChangeNoteRequired(StatementError):
    """Every amendment of a published statement says why."""


class EmbargoNotInFuture(StatementError):
    """An embargo time must lie in the future."""


class PublicationInFuture(StatementError):
    """A back-dated publication time must lie in the past."""


class FieldNotAmendable(StatementError):
    """Only title, body, kind and tags can be amended (the API never sends others)."""


class NothingToAmend(StatementError):
    """An amendment must change at least one field."""


class NotADraft(StatementError):
    """Only a draft is submitted for review."""


class NotInReview(StatementError):
    """Only a statement submitted for review can be approved."""


class SecondPairOfEyesRequired(StatementError):
    """With a second pair of eyes required, whoever last changed the text may
    not also approve, publish, schedule or withdraw it."""


class EmbargoNotDue(StatementError):
    """The scheduler never publishes before the embargo time."""


class HeldForReview(StatementError):
    """The scheduler never publishes a text no publisher approved: one changed
    after its approval waits, past its embargo if need be, for another."""


class TranslationTaken(StatementError):
    """The group of translations already holds a statement in that language."""


class NotATranslation(StatementError):
    """The statement is linked to no translation."""


class NotPublished(StatementError):
    """Only a published statement can be featured on the front page."""
