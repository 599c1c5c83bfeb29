"""The limits of what the ledger accepts: amounts, dates and text that every read model can hold.

Each check is written once here and called by the value objects and aggregates, so that forms,
the API, CSV imports, the CLI and webhooks all refuse the same things with the same words.
"""

import os
import re
from datetime import date
from functools import lru_cache

from ledger.dates import today as foundation_today
from ledger.dates import years_after
from ledger.errors import InvalidInputError, invalid_field
from ledger.money import format_eur, parse_cents
from ledger.texts import N_, Text

# A gift above this is far more likely a typing mistake (cents typed as euro, a pasted IBAN)
# than a gift; the foundation can raise it with LEDGER_MAX_GIFT_EUR.
DEFAULT_MAX_GIFT_CENTS = 1_000_000 * 100
# Targets, deposits and the configurable gift maximum itself: sums of many such amounts stay
# far below the 2**63 cents a BIGINT column holds.
MAX_TARGET_CENTS = 1_000_000_000 * 100
# People behind one anonymous tally (INTEGER columns hold 2**31 on PostgreSQL).
MAX_DONORS = 1_000_000
# Notes or coins of one denomination in one cash count.
MAX_PIECES = 100_000
EARLIEST_DATE = date(2000, 1, 1)
# Campaigns are planned ahead (a programme of several years); gifts, stand days, refunds and
# corrections happen now, so a date more than a year ahead is a typing mistake.
CAMPAIGN_YEARS_AHEAD = 5
YEARS_AHEAD = 1
# Control characters (Unicode category Cc: C0, DEL, C1) and lone UTF-16 surrogates (Cs),
# which PostgreSQL text, SQLite's UTF-8 and JSON consumers all choke on. A multi-line field
# keeps tab, newline and carriage return (a browser sends a textarea's lines as CRLF).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@lru_cache(maxsize=8)
def _max_gift_from(configured: str) -> int:
    if not configured.strip():
        return DEFAULT_MAX_GIFT_CENTS
    try:
        cents = parse_cents(configured)
    except InvalidInputError:
        cents = 0
    if not 100 <= cents <= MAX_TARGET_CENTS:
        raise InvalidInputError(
            f"LEDGER_MAX_GIFT_EUR must be an amount in euro from 1 to "
            f"{format_eur(MAX_TARGET_CENTS)}, not {configured!r}"
        )
    return cents


def max_gift_cents() -> int:
    """The largest gift accepted: LEDGER_MAX_GIFT_EUR (euro), € 1.000.000,00 when unset."""
    return _max_gift_from(os.environ.get("LEDGER_MAX_GIFT_EUR", ""))


def amount_problem(cents: object, least: int = 1, most: int | None = None) -> Text | None:
    """Why `cents` is not a whole number of cents in [least, most] (most: the gift maximum)."""
    highest = max_gift_cents() if most is None else most
    if isinstance(cents, bool) or not isinstance(cents, int):
        return N_("not a whole number of cents")
    if cents < least:
        if least == 1:
            return N_("the amount must be more than zero")
        return N_("at least %(amount)s", amount=format_eur(least))
    if cents > highest:
        return N_("at most %(amount)s", amount=format_eur(highest))
    return None


def count_problem(count: object, least: int, most: int) -> Text | None:
    """Why `count` is not a whole number in [least, most]."""
    if isinstance(count, bool) or not isinstance(count, int):
        return N_("not a whole number")
    if not least <= count <= most:
        grouped = format(most, ",").replace(",", ".")
        return N_("from %(least)s to %(most)s", least=least, most=grouped)
    return None


def date_problem(
    day: object, years_ahead: int = YEARS_AHEAD, today: date | None = None
) -> Text | None:
    """Why `day` is outside 2000-01-01 .. today + `years_ahead` years."""
    if not isinstance(day, date):
        return N_("not a date")
    latest = years_after(today or foundation_today(), years_ahead)
    if not EARLIEST_DATE <= day <= latest:
        return N_(
            "dates go from %(first)s to %(last)s",
            first=EARLIEST_DATE.strftime("%d/%m/%Y"),
            last=latest.strftime("%d/%m/%Y"),
        )
    return None


def text_problem(text: object, multiline: bool = False) -> Text | None:
    """Why `text` cannot be stored: control characters (NUL, escapes; tab and line breaks
    too unless `multiline`) or halves of UTF-16 pairs, which no database text column takes."""
    if not isinstance(text, str):
        return N_("not text")
    index = control_character_at(text, multiline)
    if index is None:
        return None
    code = "U+" + format(ord(text[index]), "04X")
    return N_(
        "contains a control character (%(code)s) at position %(position)s",
        code=code,
        position=index + 1,
    )


def control_character_at(text: str, multiline: bool = False) -> int | None:
    """Where the first character `text_problem` refuses is, or None."""
    found = (_CONTROL_BUT_LINES if multiline else _CONTROL).search(text)
    return None if found is None else found.start()


def check(field: str, problem: str | None) -> None:
    """Raise the InvalidInputError naming `field` when there is a problem."""
    if problem is not None:
        raise invalid_field(field, problem)


def check_amount(field: str, cents: object, least: int = 1, most: int | None = None) -> None:
    check(field, amount_problem(cents, least, most))


def check_date(field: str, day: object, years_ahead: int = YEARS_AHEAD) -> None:
    check(field, date_problem(day, years_ahead))


def check_text(field: str, text: object, multiline: bool = False) -> None:
    check(field, text_problem(text, multiline))
