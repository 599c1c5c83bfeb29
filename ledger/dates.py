"""Calendar dates: the foundation's "today", and dates as people write them in Italy."""

import calendar
import os
import re
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.errors import InvalidInputError
from ledger.texts import N_

DEFAULT_TIMEZONE = "Europe/Rome"


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInputError(
            f"LEDGER_TIMEZONE must be a time zone such as Europe/Rome, not {name!r}"
        ) from error


def zone() -> ZoneInfo:
    """The foundation's time zone: LEDGER_TIMEZONE, Europe/Rome by default."""
    return _zone(os.environ.get("LEDGER_TIMEZONE") or DEFAULT_TIMEZONE)


def now() -> datetime:
    """The current moment (the one clock every "today" reads, so tests can set it)."""
    return datetime.now(UTC)


def local_day(moment: datetime | float) -> date:
    """The calendar day at the foundation of a moment or a Unix timestamp: a gift made at
    00:30 in Cremona is dated that day, although it is still the day before in UTC."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(zone()).date()


def today() -> date:
    """Today at the foundation: the one default for reports, stands, forms and retention."""
    return local_day(now())


# ASCII digits only: `\d` alone also takes Arabic-Indic and full-width digits.
_ITALIAN = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", re.ASCII)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)


def parse_date(text: str) -> date:
    """Parse `31/12/2015`, `31.12.2015`, `31-12-2015` or `2015-12-31`."""
    raw = (text or "").strip()
    if match := _ISO.fullmatch(raw):
        year, month, day = (int(part) for part in match.groups())
    elif match := _ITALIAN.fullmatch(raw):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise InvalidInputError(
            N_("not a date (use dd/mm/yyyy or yyyy-mm-dd): %(text)r", text=text)
        )
    try:
        return date(year, month, day)
    except ValueError as error:
        raise InvalidInputError(N_("not a calendar date: %(text)r", text=text)) from error


@lru_cache(maxsize=256)  # every gift's date is checked against today + a year
def years_after(day: date, years: int) -> date:
    """The same day `years` later; a 29 February ends on the last day of that February, as
    the civil code counts a term (art. 2963 c.c.: a day the final month lacks is its last)."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))
