"""Euro amounts as integer cents: parsing what people type and formatting it the Italian way."""

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency

from ledger.errors import InvalidInputError

_CLEAN = re.compile(r"[\s\u00a0\u202f€]|EUR", re.IGNORECASE)


def _is_grouped(text: str, separator: str) -> bool:
    """True when `text` is digits grouped by threes with `separator` (1.234 / 1.234.567)."""
    return re.fullmatch(r"\d{1,3}(" + re.escape(separator) + r"\d{3})+", text) is not None


def parse_cents(text: str) -> int:
    """Parse `1.234,50`, `1234,50`, `1234.50`, `€ 1.234,50` or `20` into cents.

    The last of `.`/`,` is the decimal separator when both appear; a lone separator followed by
    exactly three-digit groups is a thousands separator (Italian `1.234` is one thousand ...).
    """
    raw = _CLEAN.sub("", text or "")
    if not raw:
        raise InvalidInputError(f"amount is empty: {text!r}")
    sign = ""
    if raw[0] in "+-":
        sign, raw = raw[0], raw[1:]
    if "," in raw and "." in raw:
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
        thousands_sep = "." if decimal_sep == "," else ","
        integer, _, fraction = raw.rpartition(decimal_sep)
        if not _is_grouped(integer, thousands_sep) and not integer.isdigit():
            raise InvalidInputError(f"not an amount: {text!r}")
        normal = integer.replace(thousands_sep, "") + "." + fraction
    elif "," in raw or "." in raw:
        separator = "," if "," in raw else "."
        if _is_grouped(raw, separator):
            normal = raw.replace(separator, "")
        else:
            normal = raw.replace(",", ".")
    else:
        normal = raw
    if not re.fullmatch(r"\d+(\.\d{1,2})?", normal):
        raise InvalidInputError(f"not an amount in euro with at most two decimals: {text!r}")
    try:
        cents = int((Decimal(normal) * 100).to_integral_exact())
    except InvalidOperation as error:  # pragma: no cover - the regex above admits only digits
        raise InvalidInputError(f"not an amount: {text!r}") from error
    return -cents if sign == "-" else cents


def format_eur(cents: int, locale: str = "it_IT") -> str:
    """`€ 1.234,50` for Italian, `€1,234.50` for English; Babel does the grouping."""
    amount = Decimal(cents) / 100
    if locale.startswith("it"):
        return format_currency(amount, "EUR", format="¤ #,##0.00", locale=locale,
                               currency_digits=False)
    return format_currency(amount, "EUR", locale=locale)
