"""Back-office queries over the gift totals and the registry: gift pages, a donor's lifetime."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from projections.database import Session

PAGE_COLUMNS = (
    "donation_id",
    "source_key",
    "campaign",
    "campaign_name",
    "value_date",
    "channel",
    "method",
    "amount_cents",
    "refunded_cents",
    "people",
    "status",
    "donor_id",
    "donor_name",
)


@dataclass(frozen=True)
class GiftFilters:
    """Which gifts the donations page lists."""

    campaign: str = ""
    channel: str = ""
    date_from: date | None = None
    date_to: date | None = None
    donor_id: str = ""


@dataclass(frozen=True)
class GiftPage:
    """One page of gifts, newest first, with the count and total of every gift the filters
    select; `after` is the key to ask for the next page (None on the last one)."""

    gifts: list[dict[str, Any]]
    count: int
    total_cents: int
    after: str | None


def _conditions(filters: GiftFilters) -> tuple[list[str], list[Any]]:
    conditions, params = ["1 = 1"], []
    if filters.campaign:
        conditions.append("v.campaign = ?")
        params.append(filters.campaign)
    if filters.channel:
        conditions.append("v.channel = ?")
        params.append(filters.channel)
    for when, operator in ((filters.date_from, ">="), (filters.date_to, "<=")):
        if when:
            conditions.append(f"v.value_date {operator} ?")
            params.append(when.isoformat())
    if filters.donor_id:
        conditions.append("g.donor_id = ?")
        params.append(filters.donor_id)
    return conditions, params


_FROM = (
    "FROM gifts_view v LEFT JOIN registry_gifts g ON g.donation_id = v.donation_id "
    "LEFT JOIN registry_donors d ON d.donor_id = g.donor_id "
    "LEFT JOIN campaigns_view c ON c.slug = v.campaign "
)


def parse_after(text: str) -> tuple[str, str] | None:
    """The page key `yyyy-mm-dd_<donation id>` as (value date, donation id); None when the
    text is no such key (the first page is shown instead)."""
    day, _, donation_id = text.partition("_")
    try:
        date.fromisoformat(day)
    except ValueError:
        return None
    return (day, donation_id) if donation_id else None


def gift_page(session: Session, filters: GiftFilters, after: str = "", size: int = 50) -> GiftPage:
    """Keyset pagination on (value date, donation id), both descending: a page costs the
    same however deep it is, and a gift recorded meanwhile never shifts what comes next."""
    conditions, params = _conditions(filters)
    count, total = session.one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN v.status = 'confirmed' "
        f"THEN v.amount_cents - v.refunded_cents ELSE 0 END), 0) {_FROM}"
        f"WHERE {' AND '.join(conditions)}",
        params,
    ) or (0, 0)
    key = parse_after(after)
    if key is not None:
        conditions.append("(v.value_date < ? OR (v.value_date = ? AND v.donation_id < ?))")
        params += [key[0], key[0], key[1]]
    rows = session.query(
        "SELECT v.donation_id, v.source_key, v.campaign, COALESCE(c.name, v.campaign), "
        "v.value_date, v.channel, v.method, v.amount_cents, v.refunded_cents, v.people, "
        "v.status, COALESCE(d.donor_id, ''), COALESCE(d.display_name, '') "
        f"{_FROM}WHERE {' AND '.join(conditions)} "
        "ORDER BY v.value_date DESC, v.donation_id DESC LIMIT ?",
        [*params, size + 1],
    )
    gifts = [dict(zip(PAGE_COLUMNS, row, strict=True)) for row in rows[:size]]
    last = gifts[-1] if len(rows) > size else None
    return GiftPage(
        gifts,
        int(count),
        int(total),
        f"{last['value_date']}_{last['donation_id']}" if last else None,
    )


def donor_lifetime(session: Session, donor_id: str) -> dict[str, Any]:
    """A donor's confirmed giving: how many gifts, the total net of refunds, first and last
    gift's value date."""
    gifts, total, first, last = session.one(
        "SELECT COUNT(*), COALESCE(SUM(g.amount_cents - COALESCE(v.refunded_cents, 0)), 0), "
        "MIN(g.value_date), MAX(g.value_date) FROM registry_gifts g "
        "LEFT JOIN gifts_view v ON v.donation_id = g.donation_id "
        "WHERE g.donor_id = ? AND g.status = 'confirmed'",
        (donor_id,),
    ) or (0, 0, None, None)
    return {"gifts": int(gifts), "total_cents": int(total), "first": first, "last": last}


def campaign_names(session: Session) -> dict[str, str]:
    return {slug: name for slug, name in session.query("SELECT slug, name FROM campaigns_view")}


def campaign_span(session: Session, slug: str) -> tuple[str | None, str | None]:
    """The campaign's first and last day as recorded (an open-ended one has no last day)."""
    row = session.one(
        "SELECT starts_on, COALESCE(ended_on, ends_on) FROM campaigns_view WHERE slug = ?",
        (slug,),
    )
    return (row[0], row[1]) if row else (None, None)
