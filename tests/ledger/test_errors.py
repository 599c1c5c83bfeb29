"""One error for every problem of a command: each field and message named, nothing lost."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.campaign import check_campaign
from ledger.deposit import check_deposit
from ledger.errors import InvalidInputError, invalid_field, invalid_input, raise_problems
from ledger.stand import check_opening
from ledger.user import check_new_user

fields = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
messages = st.lists(
    st.text(min_size=1, max_size=40).filter(lambda m: ";" not in m), min_size=1, max_size=3
)


@given(st.dictionaries(fields, messages, min_size=1, max_size=6))
def test_every_problem_is_named_in_the_one_error(problems: dict[str, list[str]]) -> None:
    error = invalid_input(problems)
    assert error.fields == problems
    parts = str(error).split("; ")
    assert len(parts) == sum(len(ms) for ms in problems.values())
    assert parts == [f"{field}: {m}" for field, ms in problems.items() for m in ms]
    with pytest.raises(InvalidInputError) as raised:
        raise_problems(problems)
    assert raised.value.fields == problems


def test_no_problem_raises_nothing() -> None:
    raise_problems({})


def test_one_field_error_reads_like_the_others() -> None:
    error = invalid_field("counter", "who counted?")
    assert (str(error), error.fields) == ("counter: who counted?", {"counter": ["who counted?"]})


def test_a_stand_opening_reports_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_opening("c\x00", " ", "", "Milano", date(1999, 1, 1), [" ", "\x1b"])
    assert sorted(raised.value.fields) == [
        "campaign",
        "comune",
        "day",
        "district",
        "place",
        "volunteers",
    ]
    assert len(str(raised.value).split("; ")) == 6


def test_a_stand_opening_keeps_the_volunteers_names_trimmed() -> None:
    names = check_opening(
        "fare-legami",
        "Piazza del Comune",
        "Cremona",
        "Cremona",
        date(2016, 9, 10),
        ["  Anna ", "", "Luca"],
    )
    assert names == ["Anna", "Luca"]


def test_a_deposit_reports_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_deposit("  ", 0, date(1999, 12, 31), [])
    assert sorted(raised.value.fields) == ["amount_cents", "on", "reference", "stands"]


def test_a_new_user_reports_address_and_role_together() -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_new_user("not-an-address", "owner")
    assert sorted(raised.value.fields) == ["email", "role"]
    assert check_new_user("  Staff@Fondazione.IT ", "staff") == "staff@fondazione.it"


def test_a_campaign_reports_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_campaign("Fare Legami", "", -1, date(2017, 1, 1), date(2016, 1, 1))
    assert sorted(raised.value.fields) == ["ends", "name", "slug", "target"]
