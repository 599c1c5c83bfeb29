"""The register of events set aside, in memory: a position once, with its reason, never a
set-aside itself."""

from datetime import date

import pytest

from ledger.application import LedgerApplication
from ledger.errors import InvalidInputError, NotFoundError
from ledger.set_aside import SetAsideEvents


@pytest.mark.parametrize("position", [0, -1, 2**63])
def test_a_position_is_a_notification_number(position: int) -> None:
    with pytest.raises(InvalidInputError) as refused:
        SetAsideEvents().set_aside(position, "errore", "admin")
    assert set(refused.value.fields) == {"position"}


def test_an_event_is_set_aside_once_and_says_why() -> None:
    register = SetAsideEvents()
    with pytest.raises(InvalidInputError) as no_reason:
        register.set_aside(3, " \n ", "admin")
    assert no_reason.value.fields == {"reason": ["required"]}
    assert register.set_aside(3, " importo fuori scala ", "admin")
    assert not register.set_aside(3, "di nuovo", "admin")
    assert register.set_aside(7, "altro", "admin")
    assert (register.positions, register.reasons[3]) == (frozenset({3, 7}), "importo fuori scala")


def test_only_a_recorded_event_is_set_aside_and_never_a_set_aside(
    memory_app: LedgerApplication,
) -> None:
    assert memory_app.set_aside_positions() == frozenset()
    memory_app.start_campaign("fare-legami", "Fare Legami", 0, date(2016, 7, 1), None)
    for missing in (0, 2, "1"):
        with pytest.raises(NotFoundError):
            memory_app.set_aside_event(missing, "errore", "admin")  # type: ignore[arg-type]
    assert memory_app.set_aside_event(1, "errore", "admin")
    assert not memory_app.set_aside_event(1, "di nuovo", "admin")
    # The register's first save: its opening at position 2, the set-aside at 3; neither is
    # ever set aside.
    for own in (2, 3):
        with pytest.raises(InvalidInputError) as itself:
            memory_app.set_aside_event(own, "errore", "admin")
        assert set(itself.value.fields) == {"position"}
    assert memory_app.set_aside_positions() == frozenset({1})
