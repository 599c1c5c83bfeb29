"""Events set aside: notifications the read models skip, each with who decided it and why."""

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.bounds import check, check_text, count_problem
from ledger.errors import InvalidInputError
from ledger.keys import natural_id


class SetAsideEvents(Aggregate):
    """One well-known register. History is never edited: an event accepted by mistake, that a
    read model cannot apply, stays in the store; a later entry here tells every read model to
    pass over it."""

    class Opened(Aggregate.Created):
        pass

    class EventSetAside(Aggregate.Event):
        position: int
        reason: str
        by: str

    @staticmethod
    def create_id() -> UUID:  # type: ignore[override]
        return natural_id("set-aside", "notifications")

    @event(Opened)
    def __init__(self) -> None:
        self.reasons: dict[int, str] = {}

    def set_aside(self, position: int, reason: str, by: str) -> bool:
        """Skip the notification at `position` from now on; False when it already is."""
        check("position", count_problem(position, 1, 2**63 - 1))
        check_text("reason", reason, multiline=True)
        if not reason.strip():
            raise InvalidInputError("say why the event is set aside", {"reason": ["required"]})
        if position in self.reasons:
            return False
        self._set_aside(position=position, reason=reason.strip(), by=by)
        return True

    @event(EventSetAside)
    def _set_aside(self, position: int, reason: str, by: str) -> None:
        self.reasons[position] = reason

    @property
    def positions(self) -> frozenset[int]:
        return frozenset(self.reasons)
