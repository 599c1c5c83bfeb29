"""Amounts and dates as people type them."""

from datetime import date

import pytest

from ledger.dates import parse_date
from ledger.errors import InvalidInputError
from ledger.money import format_eur, parse_cents


@pytest.mark.parametrize(("text", "cents"), [
    ("1.234,50", 123450), ("1234,50", 123450), ("1234.50", 123450), ("€ 1.234,50", 123450),
    ("20", 2000), ("20,00", 2000), ("0,5", 50), ("1.234", 123400), ("1,234.56", 123456),
    ("1.234.567,89", 123456789), ("  7,10 € ", 710), ("EUR 3", 300),
])
def test_amounts_in_italian_and_international_forms(text: str, cents: int) -> None:
    assert parse_cents(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "1.23.4", "12,345,6", "€", "5 euro"])
def test_malformed_amounts_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_cents(text)


def test_three_decimals_are_never_read_as_cents() -> None:
    with pytest.raises(InvalidInputError):
        parse_cents("1.2345")


def test_format_is_italian_with_the_euro_in_front() -> None:
    assert format_eur(4270800) == "€ 42.708,00"
    assert format_eur(5) == "€ 0,05"
    assert format_eur(33_600_000, "en") == "€336,000.00"


@pytest.mark.parametrize(("text", "day"), [
    ("31/12/2015", date(2015, 12, 31)), ("1/7/2015", date(2015, 7, 1)),
    ("2016-05-31", date(2016, 5, 31)), ("31.12.2015", date(2015, 12, 31)),
])
def test_dates_italian_or_iso(text: str, day: date) -> None:
    assert parse_date(text) == day


@pytest.mark.parametrize("text", ["31/02/2016", "2016-13-01", "ieri", "", "12/2015"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_date(text)
