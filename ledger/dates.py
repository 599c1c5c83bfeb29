"""Calendar dates as people write them in Italy (`dd/mm/yyyy`) or as ISO 8601."""

import calendar
import re
from datetime import date

from ledger.errors import InvalidInputError

_ITALIAN = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_date(text: str) -> date:
    """Parse `31/12/2015`, `31.12.2015`, `31-12-2015` or `2015-12-31`."""
    raw = (text or "").strip()
    if match := _ISO.fullmatch(raw):
        year, month, day = (int(part) for part in match.groups())
    elif match := _ITALIAN.fullmatch(raw):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise InvalidInputError(f"not a date (use dd/mm/yyyy or yyyy-mm-dd): {text!r}")
    try:
        return date(year, month, day)
    except ValueError as error:
        raise InvalidInputError(f"not a calendar date: {text!r}") from error


def years_after(day: date, years: int) -> date:
    """The same day `years` later; a 29 February ends on the last day of that February, as
    the civil code counts a term (art. 2963 c.c.: a day the final month lacks is its last)."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))
