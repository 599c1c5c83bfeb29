"""Set-aside commands: tell every read model to skip an event it cannot apply."""

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.service import LedgerService
from ledger.set_aside import SetAsideEvents


class SetAsides(LedgerService):
    """The register of events set aside; the events themselves stay as they were recorded."""

    def set_aside_event(self, position: int, reason: str, by: str) -> bool:
        """Tell every read model to skip the notification at `position` (an event accepted by
        mistake that a read model cannot apply); the event itself stays as it was recorded.
        False when it was already set aside."""
        found = (
            self.recorder.select_notifications(start=position, limit=1)
            if (isinstance(position, int) and position >= 1)
            else []
        )
        if not found or found[0].id != position:
            raise NotFoundError(f"no event at position {position}")
        if found[0].originator_id == SetAsideEvents.create_id():
            raise InvalidInputError(
                "the register of set-asides is never set aside itself",
                {"position": ["choose the event a read model stopped at"]},
            )
        for _attempt in range(3):
            try:
                register: SetAsideEvents = self.repository.get(SetAsideEvents.create_id())
            except AggregateNotFoundError:
                register = SetAsideEvents()
            if not register.set_aside(position, reason, by):
                return False
            try:
                self.save(register)
                return True
            except IntegrityError:
                continue
        raise ConflictError("the events set aside keep changing; try again")

    def set_aside_positions(self) -> frozenset[int]:
        """The notifications every read model skips."""
        try:
            register: SetAsideEvents = self.repository.get(SetAsideEvents.create_id())
        except AggregateNotFoundError:
            return frozenset()
        return register.positions
