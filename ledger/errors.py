"""Domain errors: the one vocabulary the CLI and the web map to exit codes and HTTP statuses."""

from eventsourcing.persistence import IntegrityError


class LedgerError(Exception):
    """Base of every error a user can cause; its message is meant to be read by that user:
    English, or a `ledger.texts.Text` (English with its msgid and values) that web/ shows in
    the page's language."""


class NotFoundError(LedgerError):
    """The campaign, donation, donor or stand asked for does not exist."""


class ConflictError(LedgerError):
    """The command clashes with what is already recorded (same key, other content; closed stand)."""


class InvalidInputError(LedgerError):
    """Input that cannot be accepted; `fields` maps field names to messages (each a str, as a
    rule a `ledger.texts.Text`) where known."""

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


class ChangedMeanwhileError(ConflictError, IntegrityError):
    """Another command changed the same aggregate first (optimistic concurrency). It is still an
    IntegrityError, so code that expects one (a natural key already recorded) is unchanged; where
    nothing catches it, it reaches the user as a conflict to retry, never as a crash."""


def invalid_input(problems: dict[str, list[str]]) -> InvalidInputError:
    """One error for every problem found, field by field, so that a form shows them all at once
    and a message names each field."""
    return InvalidInputError(summary(problems), problems)


def summary(problems: dict[str, list[str]]) -> str:
    """`field: problem; field: problem`, the message of an error built from its fields."""
    return "; ".join(f"{field}: {m}" for field, ms in problems.items() for m in ms)


def raise_problems(problems: dict[str, list[str]]) -> None:
    """Raise one InvalidInputError listing `problems`, when there are any."""
    if problems:
        raise invalid_input(problems)


def invalid_field(field: str, message: str) -> InvalidInputError:
    """The error for one field's one problem."""
    return invalid_input({field: [message]})
