"""Bounds where amounts, dates and text enter: refused in the domain, whatever the entry point."""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.bounds import (
    DEFAULT_MAX_GIFT_CENTS,
    MAX_DONORS,
    MAX_PIECES,
    MAX_TARGET_CENTS,
    max_gift_cents,
    text_problem,
)
from ledger.campaign import check_campaign
from ledger.dates import today as foundation_today
from ledger.dates import years_after
from ledger.donation import Donation
from ledger.donor import Donor
from ledger.errors import InvalidInputError
from ledger.gift import Gift, NamedGift
from ledger.identity import DonorDetails
from ledger.stand import StandCollection

DAY = date(2016, 9, 10)
TODAY = foundation_today()
LATEST = years_after(TODAY, 1)
DETAIL_FIELDS = (
    "first_name",
    "last_name",
    "organization",
    "email",
    "phone",
    "address",
    "postcode",
    "city",
    "province",
    "tax_code",
)
# A control character: C0, DEL, C1 (category Cc) or a lone UTF-16 surrogate (Cs).
controls = st.characters(categories=["Cc", "Cs"])
line_breaks = st.sampled_from("\t\n\r")
controls_but_line_breaks = controls.filter(lambda c: c not in "\t\n\r")
plain = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=20)


@st.composite
def text_with(draw: st.DrawFn, control: st.SearchStrategy[str]) -> str:
    """Ordinary text with one hostile character somewhere inside it."""
    return draw(plain) + draw(control) + draw(plain)


def gift(**changes: Any) -> Gift:
    fields: dict[str, Any] = dict(
        source_key="test:1",
        campaign="fare-legami-anni-2-3",
        amount_cents=2500,
        value_date=DAY,
        channel="bank",
        method="bank_transfer",
    )
    return Gift(**{**fields, **changes})


def donation(amount_cents: int = 10_000) -> Donation:
    return Donation(
        source_key="test:1",
        campaign="c",
        amount_cents=amount_cents,
        donors=1,
        identified=False,
        channel="bank",
        method="bank_transfer",
        value_date=DAY,
        district="",
        stand="",
        status="confirmed",
        sealed_donor=None,
    )


def stand() -> StandCollection:
    return StandCollection("c", "Piazza del Comune", "Cremona", "Cremona", DAY, ["Anna"])


def refused(call: Any, field: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        call()
    assert field in caught.value.fields, caught.value.fields
    return caught.value


# Amounts

beyond_a_gift = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=DEFAULT_MAX_GIFT_CENTS + 1),
    st.integers(min_value=2**63 - 1, max_value=2**80),
)


@given(beyond_a_gift)
def test_a_gift_outside_one_cent_to_the_maximum_is_refused(cents: int) -> None:
    error = refused(lambda: gift(amount_cents=cents), "amount")
    assert "amount" in str(error)


@given(st.integers(min_value=1, max_value=DEFAULT_MAX_GIFT_CENTS))
def test_a_gift_up_to_the_maximum_is_accepted(cents: int) -> None:
    assert gift(amount_cents=cents).amount_cents == cents


@pytest.mark.parametrize("value", [True, 12.5, "1200", None])
def test_an_amount_must_be_a_whole_number_of_cents(value: object) -> None:
    error = refused(lambda: gift(amount_cents=value), "amount")
    assert error.fields["amount"] == ["not a whole number of cents"]


def test_the_gift_maximum_is_configurable_in_euro(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_MAX_GIFT_EUR", raising=False)
    assert max_gift_cents() == 100_000_000
    monkeypatch.setenv("LEDGER_MAX_GIFT_EUR", "5.000")
    assert max_gift_cents() == 500_000
    assert gift(amount_cents=500_000).amount_cents == 500_000
    error = refused(lambda: gift(amount_cents=500_001), "amount")
    assert error.fields["amount"] == ["at most € 5.000,00"]
    monkeypatch.setenv("LEDGER_MAX_GIFT_EUR", "molto")
    with pytest.raises(InvalidInputError, match="LEDGER_MAX_GIFT_EUR"):
        max_gift_cents()


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_TARGET_CENTS + 1)))
def test_a_target_below_zero_or_above_a_billion_euro_is_refused(cents: int) -> None:
    refused(lambda: check_campaign("c", "C", cents, None, None), "target")


def test_a_target_of_a_billion_euro_is_accepted() -> None:
    check_campaign("c", "C", MAX_TARGET_CENTS, None, None)
    check_campaign("c", "C", 0, None, None)


@given(beyond_a_gift)
def test_refunds_corrections_fees_and_disputes_keep_the_same_bounds(cents: int) -> None:
    refused(lambda: donation().refund("re_1", cents, DAY), "amount")
    refused(lambda: donation().correct(cents, DAY, "typo", "staff"), "amount")
    refused(
        lambda: (
            donation().record_fee(cents, "stripe")
            if cents > 0
            else donation().record_fee(-1, "stripe")
        ),
        "fee",
    )
    if cents > 0:
        refused(lambda: donation().open_dispute("dp_1", cents, DAY), "amount")
        refused(lambda: donation().close_dispute("dp_1", "lost", cents, DAY), "amount")


@given(beyond_a_gift)
def test_stand_tallies_named_gifts_and_counts_keep_the_same_bounds(cents: int) -> None:
    refused(lambda: stand().tally(str(uuid.uuid4()), cents), "amount_cents")
    refused(
        lambda: NamedGift(str(uuid.uuid4()), DonorDetails(), cents, True, False), "amount_cents"
    )


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_PIECES + 1)))
def test_a_count_of_pieces_outside_its_bounds_is_refused(pieces: int) -> None:
    refused(lambda: stand().count_cash("Anna", {100: pieces}), "denominations")


def test_a_cash_count_above_the_gift_maximum_is_refused() -> None:
    # 100,000 notes of € 500 are € 50.000.000: each count is possible, the total is not.
    error = refused(lambda: stand().count_cash("Anna", {50000: MAX_PIECES}), "denominations")
    assert "5000000000 cents" in str(error)
    assert stand().count_cash("Anna", {50000: 2000}) == DEFAULT_MAX_GIFT_CENTS


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_DONORS + 1)))
def test_the_people_behind_one_tally_are_bounded(people: int) -> None:
    refused(lambda: gift(donors=people), "donors")


# Dates

outside_dates = st.one_of(
    st.dates(max_value=date(1999, 12, 31)), st.dates(min_value=LATEST + timedelta(days=1))
)


@given(outside_dates)
def test_value_dates_outside_2000_to_a_year_ahead_are_refused(day: date) -> None:
    error = refused(lambda: gift(value_date=day), "date")
    assert error.fields["date"] == [f"dates go from 01/01/2000 to {LATEST.strftime('%d/%m/%Y')}"]


@given(st.dates(min_value=date(2000, 1, 1), max_value=LATEST))
def test_value_dates_within_the_bounds_are_accepted(day: date) -> None:
    assert gift(value_date=day).value_date == day


@given(outside_dates)
def test_refund_correction_consent_and_stand_dates_keep_the_same_bounds(day: date) -> None:
    refused(lambda: donation().refund("re_1", 100, day), "on")
    refused(lambda: donation().correct(100, day, "typo", "staff"), "value_date")
    donor = Donor._create(Donor.Opened, id=uuid.uuid4())
    refused(lambda: donor.change_consent(True, False, "modulo firmato", day, "staff"), "on")


def test_campaign_dates_may_be_planned_five_years_ahead() -> None:
    check_campaign("c", "C", 0, TODAY, years_after(TODAY, 5))
    refused(
        lambda: check_campaign("c", "C", 0, TODAY, years_after(TODAY, 5) + timedelta(1)), "ends"
    )
    refused(lambda: check_campaign("c", "C", 0, date(1999, 12, 31), None), "starts")


def test_a_29_february_bound_falls_back_to_the_28th() -> None:
    assert years_after(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert years_after(date(2024, 2, 29), 4) == date(2028, 2, 29)


# Text


@given(text_with(controls))
def test_the_cleaner_refuses_any_control_character_in_one_line_text(text: str) -> None:
    problem = text_problem(text)
    assert problem is not None and "control character" in problem


@given(text_with(controls_but_line_breaks))
def test_the_cleaner_refuses_control_characters_other_than_line_breaks_in_notes(text: str) -> None:
    assert text_problem(text, multiline=True) is not None


@given(st.lists(st.one_of(plain, line_breaks)).map("".join))
def test_notes_keep_tabs_and_line_breaks_and_any_printable_text(text: str) -> None:
    assert text_problem(text, multiline=True) is None


@given(st.sampled_from(DETAIL_FIELDS), text_with(controls_but_line_breaks))
def test_donor_details_refuse_control_characters_in_every_field(field: str, text: str) -> None:
    error = refused(lambda: DonorDetails.parse(**{field: text}), field)
    assert field in str(error)


@given(
    st.sampled_from(
        ("first_name", "last_name", "email", "phone", "tax_code", "postcode", "province")
    ),
    text_with(line_breaks),
)
def test_names_and_contacts_refuse_tabs_and_line_breaks(field: str, text: str) -> None:
    refused(lambda: DonorDetails.parse(**{field: text}), field)


def test_an_address_broken_over_lines_in_a_spreadsheet_cell_is_one_line() -> None:
    details = DonorDetails.parse(address="Via Roma 1\r\nscala B", city="Cremona\n")
    assert (details.address, details.city) == ("Via Roma 1 scala B", "Cremona")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(text_with(controls_but_line_breaks))
def test_every_text_the_ledger_keeps_refuses_control_characters(text: str) -> None:
    refused(lambda: check_campaign("c", text, 0, None, None), "name")
    refused(lambda: gift(source_key=text), "reference")
    refused(lambda: gift(stand=text), "stand")
    refused(lambda: gift(campaign=text), "campaign")
    refused(lambda: donation().refund("re_1", 100, DAY, text), "reason")
    refused(lambda: donation().refund(text, 100, DAY), "refund_id")
    refused(lambda: donation().correct(100, DAY, text, "staff"), "reason")
    refused(lambda: stand().count_cash(text, {100: 1}), "counter")
    refused(lambda: stand().tally(text), "entry_id")
    donor = Donor._create(Donor.Opened, id=uuid.uuid4())
    refused(lambda: donor.change_consent(True, False, text, DAY, "staff"), "how")
    refused(lambda: donor.erase([], text, False, "staff"), "reason")


def test_reasons_may_span_lines() -> None:
    gift_money = donation()
    gift_money.correct(9000, DAY, "importo errato\r\nvedi estratto conto", "staff")
    assert gift_money.amount_cents == 9000
