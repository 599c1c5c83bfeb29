"""The Donor registry entry's own rules: retention, merges, consents and erasure."""

from datetime import date
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.dates import years_after
from ledger.donor import Donor, retention_reason
from ledger.errors import ConflictError, InvalidInputError
from ledger.texts import Text


def test_a_donor_with_a_tax_code_is_kept_ten_years_from_the_last_gift() -> None:
    reason = retention_reason(True, date(2017, 5, 2), date(2027, 5, 1))
    assert isinstance(reason, Text) and reason.values == {"years": 10, "day": date(2027, 5, 2)}
    assert reason == (
        "the data of a donor with a tax code are kept 10 years after the last gift, "
        "until 2027-05-02"
    )
    assert retention_reason(True, date(2017, 5, 2), date(2027, 5, 2)) is None
    assert retention_reason(False, date(2017, 5, 2), date(2018, 1, 1)) is None


def test_a_gift_on_29_february_is_kept_until_28_february_ten_years_on() -> None:
    reason = retention_reason(True, date(2016, 2, 29), date(2026, 2, 27))
    assert isinstance(reason, Text) and reason.values["day"] == date(2026, 2, 28)
    assert retention_reason(True, date(2016, 2, 29), date(2026, 2, 28)) is None
    # A leap day that lands on a leap year again stays a 29 February.
    assert years_after(date(2012, 2, 29), 12) == date(2024, 2, 29)


@given(st.dates(date(1900, 1, 1), date(2200, 12, 31)), st.integers(0, 50))
def test_years_after_keeps_the_month_and_the_day_or_the_last_day_of_the_month(
    day: date, years: int
) -> None:
    later = years_after(day, years)
    assert (later.year, later.month) == (day.year + years, day.month)
    assert later.day == day.day or (day.day == 29 and day.month == 2 and later.day == 28)


def test_a_merged_donor_takes_no_more_changes_and_cannot_merge_into_itself() -> None:
    donor, other = Donor(), uuid4()
    with pytest.raises(InvalidInputError):
        donor.merge_into(donor.id, "staff@example.org")
    donor.merge_into(other, "staff@example.org")
    assert donor.merged_into == str(other)
    with pytest.raises(ConflictError, match="merged"):
        donor.change_consent(True, True, "modulo firmato", date(2017, 1, 1), "staff")
    with pytest.raises(ConflictError, match="merged into"):
        donor.erase([], "richiesta", False, "admin@example.org")


def test_a_consent_change_says_how_it_was_given() -> None:
    donor = Donor()
    with pytest.raises(InvalidInputError):
        donor.change_consent(True, False, "  ", date(2017, 1, 1), "staff")
    donor.change_consent(True, False, " e-mail del 3 marzo ", date(2017, 3, 3), "staff")
    [*_, changed] = donor.collect_events()
    assert isinstance(changed, Donor.ConsentChanged) and changed.how == "e-mail del 3 marzo"


def test_erasure_lists_its_donations_once_and_needs_a_reason() -> None:
    donor, gifts = Donor(), [str(uuid4()), str(uuid4())]
    with pytest.raises(InvalidInputError):
        donor.erase(gifts, " ", False, "admin@example.org")
    donor.erase(gifts, "richiesta", True, "admin@example.org")
    donor.erase(gifts, "di nuovo", False, "admin@example.org")  # already erased: a no-op
    erasures = [e for e in donor.collect_events() if isinstance(e, Donor.Erased)]
    assert len(erasures) == 1 and erasures[0].donations == sorted(gifts)
    assert erasures[0].forced and erasures[0].by == "admin@example.org"
    with pytest.raises(ConflictError, match="erased"):
        donor.merge_into(uuid4(), "staff")
