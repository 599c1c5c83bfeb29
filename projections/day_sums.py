"""Running sums per campaign and day, kept as the events are applied, so that a report as of any
date reads a few hundred rows whatever the number of gifts (DESIGN.md, Definitions).

Each sum is kept three times: per day (grain `d`, period `yyyy-mm-dd`), per month (grain `m`,
period `yyyy-mm`) and per year (grain `y`, period `yyyy`). The figures as of a day add up the
years before that day's year, the months of its year before its month and the days of its
month up to that day (`as_of_rows`): at most a year's worth of rows whatever the history.

- `campaign_days` (owned by the campaign totals) holds, per campaign, period, channel and
  district: the confirmed gifts' money, fees, count, identified gifts and anonymous people,
  dated by their value date; and the money taken back (refunds, lost disputes), dated by the
  day it left.
- `registry_firsts` and `registry_new_donors` (owned by the registry) hold each donor's first
  confirmed gift's day per campaign, and how many donors gave for the first time on each
  period: the campaign's contacts as of a day are the donors whose first day is not after it.

Every change goes through a small function here, reading the row before and after it changed,
so that a status change, a correction, a fee, a refund that failed or a merge of two donors
moves exactly what it changes.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from projections.database import Session

CONFIRMED = "confirmed"
SUMS = (
    "received_cents",
    "fees_cents",
    "gifts",
    "identified_gifts",
    "anonymous_people",
    "refunded_cents",
    "disputed_cents",
    "movements",
)
_SUM_INDEX = {column: index for index, column in enumerate(SUMS)}
_TAKEN = {"refund": "refunded_cents", "dispute_lost": "disputed_cents"}
# What a confirmed gift adds to its day.
GIFT_PARTS = ("received_cents", "fees_cents", "gifts", "identified_gifts", "anonymous_people")


def as_of_rows(table: str, columns: str, campaign: str, day: str) -> tuple[str, tuple[str, ...]]:
    """A subquery of the rows that add up to the figures as of `day` (ISO): the whole years
    before its year, its year's whole months before its month, then its month's days up to
    it; three ranges of the primary key."""
    return (
        f"(SELECT {columns} FROM {table} WHERE campaign = ? AND grain = 'y' AND period < ? "
        f"UNION ALL SELECT {columns} FROM {table} WHERE campaign = ? AND grain = 'm' "
        "AND period >= ? AND period < ? "
        f"UNION ALL SELECT {columns} FROM {table} WHERE campaign = ? AND grain = 'd' "
        "AND period >= ? AND period <= ?) AS as_of",
        (campaign, day[:4], campaign, day[:4], day[:7], campaign, day[:7], day),
    )


def _periods(day: str) -> tuple[tuple[str, str], ...]:
    return ("d", day), ("m", day[:7]), ("y", day[:4])


# The campaign totals' sums


def create_day_sums(session: Session) -> None:
    sums = ",\n".join(f"{column} BIGINT NOT NULL DEFAULT 0" for column in SUMS)
    session.execute(f"""CREATE TABLE campaign_days (
        campaign TEXT NOT NULL,
        grain TEXT NOT NULL,
        period TEXT NOT NULL,
        channel TEXT NOT NULL,
        district TEXT NOT NULL,
        {sums},
        PRIMARY KEY (campaign, grain, period, channel, district)
    )""")


def add_many_to_days(
    session: Session, changes: Iterable[tuple[tuple[str, str, str, str], dict[str, int]]]
) -> None:
    """Add each change's sums (column → amount, negative to take off) to its (campaign, day,
    channel, district)'s day, month and year rows: summed per row in memory, then one upsert over
    every row they touch (a batch's worth in a round trip, not a statement each)."""
    rows: dict[tuple[str, str, str, str, str], list[int]] = {}
    for (campaign, day, channel, district), sums in changes:
        for grain, period in _periods(day):
            row = rows.setdefault((campaign, grain, period, channel, district), [0] * len(SUMS))
            for column, amount in sums.items():
                row[_SUM_INDEX[column]] += amount
    # A change that undoes another leaves the row as it was (or absent): nothing to write.
    rows = {key: sums for key, sums in rows.items() if any(sums)}
    updates = ", ".join(f"{c} = campaign_days.{c} + excluded.{c}" for c in SUMS)
    session.upsert_rows(
        "campaign_days",
        ("campaign", "grain", "period", "channel", "district", *SUMS),
        [(*key, *sums) for key, sums in sorted(rows.items())],
        f"ON CONFLICT (campaign, grain, period, channel, district) DO UPDATE SET {updates}",
    )
    # A row back to nothing goes, as if it had never been: the same rows whatever the order
    # and the batches the events were applied in.
    nothing = " AND ".join(f"{column} = 0" for column in SUMS)
    session.executemany(
        "DELETE FROM campaign_days WHERE campaign = ? AND grain = ? AND period = ? "
        f"AND channel = ? AND district = ? AND {nothing}",
        [key for key, sums in sorted(rows.items()) if min(sums) < 0],
    )


GIFT_SUMS = (
    "campaign",
    "value_date",
    "channel",
    "district",
    "amount_cents",
    "fees_cents",
    "identified",
    "people",
    "status",
)


def gift_sums(session: Session, donation_id: str) -> dict[str, Any] | None:
    """What of a gift the sums depend on, as gifts_view holds it now."""
    row = session.one(
        f"SELECT {', '.join(GIFT_SUMS)} FROM gifts_view WHERE donation_id = ?", (donation_id,)
    )
    return dict(zip(GIFT_SUMS, row, strict=True)) if row is not None else None


def count_gift(session: Session, gift: dict[str, Any] | None, sign: int) -> None:
    """Add (sign 1) or take off (sign -1) a gift's part of the sums: only confirmed gifts count."""
    if gift is not None:
        count_gifts(session, [gift], sign)


def count_gifts(session: Session, gifts: Iterable[dict[str, Any]], sign: int = 1) -> None:
    """`count_gift` for many gifts at once: summed per day, channel and district they fall on
    and written in one round trip (a batch of a rebuild)."""
    add_many_to_days(session, gift_changes((gift, sign) for gift in gifts))


Change = tuple[tuple[str, str, str, str], dict[str, int]]


def gift_changes(gifts: Iterable[tuple[dict[str, Any], int]]) -> list[Change]:
    """What adding (sign 1) or taking off (sign -1) each gift moves, for `add_many_to_days`:
    only confirmed gifts count."""
    sums: dict[tuple[str, str, str, str], dict[str, int]] = {}
    for gift, sign in gifts:
        if gift["status"] != CONFIRMED:
            continue
        identified = int(gift["identified"])
        key = (gift["campaign"], gift["value_date"], gift["channel"], gift["district"])
        day = sums.setdefault(key, dict.fromkeys(GIFT_PARTS, 0))
        day["received_cents"] += sign * int(gift["amount_cents"])
        day["fees_cents"] += sign * int(gift["fees_cents"])
        day["gifts"] += sign
        day["identified_gifts"] += sign * identified
        day["anonymous_people"] += 0 if identified else sign * int(gift["people"])
    return list(sums.items())


def movement_change(
    campaign: str, on_date: str, channel: str, district: str, kind: str, amount: int, sign: int
) -> Change:
    """What adding (sign 1) or taking off (sign -1) a refund or lost dispute moves."""
    return (campaign, on_date, channel, district), {
        _TAKEN[kind]: sign * int(amount),
        "movements": sign,
    }


def change_gift(session: Session, donation_id: str, sql: str, params: Sequence[Any]) -> None:
    """Run `sql` (an UPDATE of one gifts_view row) and move the sums by what it changed."""
    before = gift_sums(session, donation_id)
    session.execute(sql, params)
    after = gift_sums(session, donation_id)
    if before != after:
        count_gift(session, before, -1)
        count_gift(session, after, 1)


def count_movement(session: Session, movement_key: str, sign: int) -> None:
    """Add (after its INSERT) or take off (before its DELETE) a refund or lost dispute."""
    row = session.one(
        "SELECT campaign, on_date, channel, district, kind, amount_cents FROM money_movements "
        "WHERE movement_key = ?",
        (movement_key,),
    )
    if row is None:
        return
    campaign, on_date, channel, district, kind, amount = row
    add_many_to_days(
        session, [movement_change(campaign, on_date, channel, district, kind, amount, sign)]
    )


def sums_by_bucket(session: Session, campaign: str, day: str) -> list[dict[str, Any]]:
    """The sums as of `day`, one dict per channel and district that has any."""
    rows_as_of, params = as_of_rows(
        "campaign_days", f"channel, district, {', '.join(SUMS)}", campaign, day
    )
    rows = session.query(
        f"SELECT channel, district, {', '.join(f'SUM({c})' for c in SUMS)} FROM {rows_as_of} "
        "GROUP BY channel, district",
        params,
        planned_each_time=True,
    )
    return [
        {"channel": channel, "district": district, **dict(zip(SUMS, map(int, sums), strict=True))}
        for channel, district, *sums in rows
    ]


def sums_by_day(session: Session, campaign: str) -> list[tuple[str, int, int, int, int]]:
    """(day, received, confirmed gifts, taken back, movements) for every day that has any."""
    return [
        (day, int(received), int(gifts), int(taken), int(movements))
        for day, received, gifts, taken, movements in session.query(
            "SELECT period, SUM(received_cents), SUM(gifts), "
            "SUM(refunded_cents + disputed_cents), SUM(movements) FROM campaign_days "
            "WHERE campaign = ? AND grain = 'd' GROUP BY period",
            (campaign,),
            planned_each_time=True,
        )
    ]


def received_by_month(session: Session, campaign: str) -> list[tuple[str, int]]:
    """(yyyy-mm, received) for every month with a confirmed gift, in order."""
    return [
        (month, int(received))
        for month, received in session.query(
            "SELECT period, SUM(received_cents) FROM campaign_days WHERE campaign = ? AND "
            "grain = 'm' GROUP BY period HAVING SUM(gifts) > 0 ORDER BY period",
            (campaign,),
            planned_each_time=True,
        )
    ]


# The registry's first days


def create_first_days(session: Session) -> None:
    session.execute("""CREATE TABLE registry_firsts (
        donor_id TEXT NOT NULL,
        campaign TEXT NOT NULL,
        first_day TEXT NOT NULL,
        PRIMARY KEY (donor_id, campaign)
    )""")
    session.execute("""CREATE TABLE registry_new_donors (
        campaign TEXT NOT NULL,
        grain TEXT NOT NULL,
        period TEXT NOT NULL,
        donors BIGINT NOT NULL,
        PRIMARY KEY (campaign, grain, period)
    )""")


def _count_new_donors(session: Session, counts: dict[tuple[str, str], int]) -> None:
    """Move the count of new donors by `counts` ((campaign, first day) → change), in the
    day's, the month's and the year's row; a row back to nothing goes."""
    rows: dict[tuple[str, str, str], int] = {}
    for (campaign, day), change in counts.items():
        for grain, period in _periods(day):
            rows[(campaign, grain, period)] = rows.get((campaign, grain, period), 0) + change
    changed = sorted((key, change) for key, change in rows.items() if change)
    session.upsert_rows(
        "registry_new_donors",
        ("campaign", "grain", "period", "donors"),
        [(*key, change) for key, change in changed],
        "ON CONFLICT (campaign, grain, period) DO UPDATE SET "
        "donors = registry_new_donors.donors + excluded.donors",
    )
    session.executemany(
        "DELETE FROM registry_new_donors WHERE campaign = ? AND grain = ? AND period = ? "
        "AND donors = 0",
        [key for key, change in changed if change < 0],
    )


def refresh_first_day(session: Session, donor_id: str, campaign: str) -> None:
    """Read the donor's first confirmed gift's day in the campaign again from registry_gifts,
    and move the count of new donors if it changed (or appeared, or went)."""
    refresh_first_days(session, [(donor_id, campaign)])


def refresh_first_days(session: Session, pairs: Iterable[tuple[str, str]]) -> None:
    """`refresh_first_day` for many (donor, campaign) at once: their first days read in one
    query, the changed ones written in one round trip (a batch's new gifts)."""
    wanted = set(pairs)
    if not wanted:
        return
    firsts: dict[tuple[str, str], str] = {}
    known: dict[tuple[str, str], str] = {}
    for condition, params in session.matching("donor_id", sorted({d for d, _ in wanted})):
        for donor_id, campaign, first in session.query(
            "SELECT donor_id, campaign, MIN(value_date) FROM registry_gifts "
            f"WHERE {condition} AND status = ? GROUP BY donor_id, campaign",
            [*params, CONFIRMED],
        ):
            firsts[(donor_id, campaign)] = first
        for donor_id, campaign, first_day in session.query(
            f"SELECT donor_id, campaign, first_day FROM registry_firsts WHERE {condition}",
            params,
        ):
            known[(donor_id, campaign)] = first_day
    counts: dict[tuple[str, str], int] = {}
    gone: list[tuple[str, str]] = []
    moved: list[tuple[str, str, str]] = []
    for donor_id, campaign in sorted(wanted):
        first, was = firsts.get((donor_id, campaign)), known.get((donor_id, campaign))
        if first == was:
            continue
        if was is not None:
            counts[(campaign, was)] = counts.get((campaign, was), 0) - 1
        if first is None:
            gone.append((donor_id, campaign))
        else:
            moved.append((donor_id, campaign, first))
            counts[(campaign, first)] = counts.get((campaign, first), 0) + 1
    session.executemany("DELETE FROM registry_firsts WHERE donor_id = ? AND campaign = ?", gone)
    session.upsert_rows(
        "registry_firsts",
        ("donor_id", "campaign", "first_day"),
        moved,
        "ON CONFLICT (donor_id, campaign) DO UPDATE SET first_day = excluded.first_day",
    )
    _count_new_donors(session, counts)


def refresh_gift_donor(session: Session, donation_id: str) -> None:
    """After a registry gift changed (status, value date): its donor's first day again."""
    row = session.one(
        "SELECT donor_id, campaign FROM registry_gifts WHERE donation_id = ?", (donation_id,)
    )
    if row is not None:
        refresh_first_day(session, row[0], row[1])


def refresh_donors(session: Session, *donor_ids: str) -> None:
    """After gifts moved between donors (a merge, an undone merge, an erasure met in a
    rebuild): every first day of theirs read again, in every campaign they have or had."""
    pairs = []
    for donor_id in donor_ids:
        campaigns = {
            row[0]
            for row in session.query(
                "SELECT DISTINCT campaign FROM registry_gifts WHERE donor_id = ?", (donor_id,)
            )
        }
        pairs += [(donor_id, c) for c in campaigns | set(donor_campaigns(session, donor_id))]
    refresh_first_days(session, pairs)


def donor_campaigns(session: Session, donor_id: str) -> list[str]:
    """The campaigns where the donor has a first day (a confirmed gift)."""
    return [
        row[0]
        for row in session.query(
            "SELECT campaign FROM registry_firsts WHERE donor_id = ?", (donor_id,)
        )
    ]


def contacts_as_of(session: Session, campaign: str, day: str) -> int:
    """Distinct donors with a confirmed gift to the campaign dated `day` or before."""
    rows_as_of, params = as_of_rows("registry_new_donors", "donors", campaign, day)
    return int(
        session.scalar(
            f"SELECT SUM(donors) FROM {rows_as_of}", params, default=0, planned_each_time=True
        )
    )
