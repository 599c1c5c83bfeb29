"""Amounts and dates as people type them."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.dates import parse_date
from ledger.errors import InvalidInputError
from ledger.money import format_eur, parse_cents


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1.234,50", 123450),
        ("1234,50", 123450),
        ("1234.50", 123450),
        ("€ 1.234,50", 123450),
        ("20", 2000),
        ("20,00", 2000),
        ("0,5", 50),
        ("1.234", 123400),
        ("1,234.56", 123456),
        ("1.234.567,89", 123456789),
        ("  7,10 € ", 710),
        ("EUR 3", 300),
    ],
)
def test_amounts_in_italian_and_international_forms(text: str, cents: int) -> None:
    assert parse_cents(text) == cents


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "1,2,3",
        "1.23.4",
        "12,345,6",
        "€",
        "5 euro",
        "1,",
        "1.",
        ",50",
        "1.234,",
        "1.234.50",
        "١٢",
        "0,500.00",
    ],
)
def test_malformed_amounts_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_cents(text)


def test_three_decimals_are_never_read_as_cents() -> None:
    with pytest.raises(InvalidInputError):
        parse_cents("1.2345")


@pytest.mark.parametrize(
    "text", ["0,500", "0.500", "1,234", "€ 1,234", "1,234,567", "0,050", "1234.567", "00.500"]
)
def test_three_digits_after_a_lone_mark_that_could_be_decimals_are_ambiguous(text: str) -> None:
    with pytest.raises(InvalidInputError, match="ambiguous amount"):
        parse_cents(text)


def _grouped(digits: str, separator: str) -> str:
    groups = []
    while len(digits) > 3:
        digits, group = digits[:-3], digits[-3:]
        groups.insert(0, group)
    return separator.join([digits, *groups])


@st.composite
def written_amounts(draw: st.DrawFn) -> tuple[str, int]:
    """Any cents value written in one of the accepted forms of the README, by a model that
    shares no code with the parser: (text, cents)."""
    cents = draw(st.integers(0, 10**13))
    euros, rest = divmod(cents, 100)
    italian = draw(st.booleans())
    decimal_mark, group_mark = (",", ".") if italian else (".", ",")
    decimals: list[str | None] = [f"{rest:02d}"]
    if rest % 10 == 0:
        decimals.append(str(rest // 10))
    if rest == 0:
        decimals.append(None)
    fraction = draw(st.sampled_from(decimals))
    # International thousands groups only with the decimal point written (`1,234` alone is
    # ambiguous); Italian groups always.
    grouping = draw(st.booleans()) and (italian or fraction is not None)
    integer = _grouped(str(euros), group_mark) if grouping else str(euros)
    number = integer if fraction is None else f"{integer}{decimal_mark}{fraction}"
    euro = draw(
        st.sampled_from(["{}", "€ {}", "€{}", "{} €", "{}€", "EUR {}", "\u00a0{} ", "€\u00a0{}"])
    )
    return euro.format(number), cents


@given(written_amounts())
def test_every_accepted_form_reads_back_its_cents(written: tuple[str, int]) -> None:
    text, cents = written
    assert parse_cents(text) == cents


@given(st.integers(0, 10**11), st.sampled_from(["it_IT", "en"]))
def test_what_the_ledger_prints_it_reads_back(cents: int, locale: str) -> None:
    assert parse_cents(format_eur(cents, locale)) == cents


@given(
    st.integers(0, 10**9).map(str),
    st.sampled_from([",", "."]),
    st.text("0123456789", min_size=3, max_size=3),
)
def test_a_lone_mark_before_three_digits_is_only_ever_an_italian_thousands_group(
    integer: str, mark: str, digits: str
) -> None:
    text = f"{integer}{mark}{digits}"
    if mark == "." and integer[0] != "0" and len(integer) <= 3:
        assert parse_cents(text) == int(integer + digits) * 100
    else:
        with pytest.raises(InvalidInputError):
            parse_cents(text)


@given(
    st.integers(0, 10**9).map(str),
    st.sampled_from([",", "."]),
    st.text("0123456789", min_size=4, max_size=8),
)
def test_more_than_two_decimals_are_refused(integer: str, mark: str, digits: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_cents(f"{integer}{mark}{digits}")


def test_format_is_italian_with_the_euro_in_front() -> None:
    assert format_eur(4270800) == "€ 42.708,00"
    assert format_eur(5) == "€ 0,05"
    assert format_eur(33_600_000, "en") == "€336,000.00"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("31/12/2015", date(2015, 12, 31)),
        ("1/7/2015", date(2015, 7, 1)),
        ("2016-05-31", date(2016, 5, 31)),
        ("31.12.2015", date(2015, 12, 31)),
    ],
)
def test_dates_italian_or_iso(text: str, day: date) -> None:
    assert parse_date(text) == day


@pytest.mark.parametrize("text", ["31/02/2016", "2016-13-01", "ieri", "", "12/2015"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_date(text)
