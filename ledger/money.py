"""Euro amounts as integer cents: parsing what people type and formatting it the Italian way."""

import re
from decimal import Decimal

from babel.numbers import format_currency

from ledger.errors import InvalidInputError
from ledger.texts import N_

_CLEAN = re.compile(r"[\s\u00a0\u202f€]|EUR", re.IGNORECASE)


def _grouped(integer: str, separator: str) -> bool:
    """`1.234`, `12.345.678`: a first group of one to three digits, not starting with 0 (a
    leading `0.` or `0,` is a decimal mark, never a group), then groups of exactly three."""
    group = r"[1-9][0-9]{0,2}(" + re.escape(separator) + r"[0-9]{3})+"
    return re.fullmatch(group, integer) is not None


def _split(raw: str, text: str) -> tuple[str, str, str | None]:
    """(integer part, its thousands separator or '', decimal part or None when no decimal
    mark is written) by the rule in the README."""
    commas, dots = raw.count(","), raw.count(".")
    if commas and dots:
        # Both marks: the last one is the decimal mark, the other groups thousands.
        decimal_mark = "," if raw.rfind(",") > raw.rfind(".") else "."
        if raw.count(decimal_mark) > 1:
            raise InvalidInputError(N_("not an amount: %(text)r", text=text))
        integer, _, fraction = raw.partition(decimal_mark)
        return integer, "." if decimal_mark == "," else ",", fraction
    if not commas and not dots:
        return raw, "", None
    mark = "," if commas else "."
    head, _, tail = raw.rpartition(mark)
    if raw.count(mark) == 1 and len(tail) != 3:
        return head, "", tail
    if len(tail) == 3 and (mark == "," or not _grouped(raw, ".")):
        # `1,234`, `0,500`, `0.500`: three decimals in one convention, a thousands group in
        # the other. A lone dot that groups correctly is Italian thousands (`1.234`).
        raise InvalidInputError(
            N_(
                "ambiguous amount %(text)r: write 1.234 or 1234 for a thousand and more, "
                "1,23 for cents",
                text=text,
            )
        )
    return raw, mark, None


def parse_cents(text: str) -> int:
    """Parse an amount in euro as people write it into cents; the accepted forms are listed
    in the README (Italian `1.234,50`, international `1,234.50`, `€`, grouping optional)."""
    raw = _CLEAN.sub("", text or "")
    if not raw:
        raise InvalidInputError(N_("amount is empty: %(text)r", text=text))
    sign = ""
    if raw[0] in "+-":
        sign, raw = raw[0], raw[1:]
    if not re.fullmatch(r"[0-9.,]+", raw):
        raise InvalidInputError(N_("not an amount: %(text)r", text=text))
    integer, separator, fraction = _split(raw, text)
    if separator and separator in integer:
        if not _grouped(integer, separator):
            raise InvalidInputError(
                N_(
                    "thousands groups are three digits each (1.234.567,89 or 1,234,567.89): "
                    "%(text)r",
                    text=text,
                )
            )
        integer = integer.replace(separator, "")
    fraction = fraction if fraction is not None else "00"
    if not re.fullmatch(r"[0-9]+", integer) or not re.fullmatch(r"[0-9]{1,2}", fraction):
        raise InvalidInputError(
            N_("not an amount in euro with at most two decimals: %(text)r", text=text)
        )
    cents = int(integer) * 100 + int(fraction.ljust(2, "0"))
    return -cents if sign == "-" else cents


def format_eur(cents: int, locale: str = "it_IT") -> str:
    """`€ 1.234,50` for Italian, `€1,234.50` for English; Babel does the grouping."""
    amount = Decimal(cents) / 100
    if locale.startswith("it"):
        return format_currency(
            amount, "EUR", format="¤ #,##0.00", locale=locale, currency_digits=False
        )
    return format_currency(amount, "EUR", locale=locale)
