"""The numbers the foundation reports (DESIGN.md, Definitions), read from the read models."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.campaign import takes_gifts_on
from ledger.dates import today
from ledger.errors import NotFoundError
from projections.database import Database, Session
from projections.day_sums import (
    SUMS,
    contacts_as_of,
    received_by_month,
    sums_by_bucket,
    sums_by_day,
)

CONFIRMED = "confirmed"


@dataclass(frozen=True)
class CampaignRow:
    slug: str
    name: str
    target_cents: int
    starts_on: str | None
    ends_on: str | None
    ended_on: str | None

    def takes_gifts_on(self, day: date) -> bool:
        return takes_gifts_on(
            day,
            *(
                date.fromisoformat(d) if d else None
                for d in (self.starts_on, self.ends_on, self.ended_on)
            ),
        )


def list_campaigns(session: Session) -> list[CampaignRow]:
    """Every campaign, newest start first."""
    rows = session.query(
        "SELECT slug, name, target_cents, starts_on, ends_on, ended_on FROM campaigns_view "
        "ORDER BY COALESCE(starts_on, '') DESC, started_at DESC"
    )
    return [CampaignRow(*row) for row in rows]


def _figures(
    received: int,
    fees: int,
    identified_gifts: int,
    anonymous_people: int,
    refunded: int,
    disputed: int,
    contacts: int,
) -> dict[str, int]:
    raised = received - refunded - disputed
    return {
        "raised_cents": raised,
        "received_cents": received,
        "refunded_cents": refunded,
        "disputed_cents": disputed,
        "fees_cents": fees,
        "net_cents": raised - fees,
        "donors": contacts + anonymous_people,
        "gifts": identified_gifts + anonymous_people,
        "contacts": contacts,
        "anonymous_people": anonymous_people,
    }


def monthly_running(session: Session, slug: str, day: str) -> dict[str, int]:
    """The monthly gifts running on the day (a cancelled one expects no further month): one
    row per monthly donor, not per month paid."""
    monthly, monthly_cents = session.one(
        "SELECT COUNT(*), COALESCE(SUM(amount_cents), 0) FROM monthly_gifts_view "
        "WHERE campaign = ? AND started_on <= ? AND (cancelled_on IS NULL OR cancelled_on > ?)",
        (slug, day, day),
    ) or (0, 0)
    return {"monthly_gifts": int(monthly), "monthly_cents": int(monthly_cents)}


def _bucketed(sums: list[dict[str, Any]], column: str) -> dict[str, dict[str, int]]:
    """Raised and gifts per channel or district that had a confirmed gift or money taken back."""
    buckets: dict[str, dict[str, int]] = {}
    for row in sums:
        if not row["gifts"] and not row["movements"]:
            continue
        bucket = buckets.setdefault(row[column], {"raised_cents": 0, "gifts": 0})
        bucket["raised_cents"] += (
            row["received_cents"] - row["refunded_cents"] - row["disputed_cents"]
        )
        bucket["gifts"] += row["identified_gifts"] + row["anonymous_people"]
    return dict(sorted(buckets.items()))


def campaign_progress(session: Session, campaign: CampaignRow, as_of: date) -> dict[str, Any]:
    """The campaign's figures as of a value date, from the running sums (projections.day_sums):
    a few hundred rows read whatever the number of gifts."""
    day = as_of.isoformat()
    sums = sums_by_bucket(session, campaign.slug, day)
    total = {column: sum(row[column] for row in sums) for column in SUMS}
    figures = _figures(
        total["received_cents"],
        total["fees_cents"],
        total["identified_gifts"],
        total["anonymous_people"],
        total["refunded_cents"],
        total["disputed_cents"],
        contacts_as_of(session, campaign.slug, day),
    )
    raised = figures["raised_cents"]
    return {
        "campaign": campaign.slug,
        "name": campaign.name,
        "target_cents": campaign.target_cents,
        **figures,
        **monthly_running(session, campaign.slug, day),
        "progress": round(raised / campaign.target_cents, 4) if campaign.target_cents else None,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "as_of": day,
        "by_channel": _bucketed(sums, "channel"),
        "by_district": _bucketed(sums, "district"),
    }


def _recounted_buckets(
    session: Session, column: str, slug: str, as_of: str
) -> dict[str, dict[str, int]]:
    """Raised and gifts (tallied people counted one by one) per channel or district."""
    rows = session.query(
        f"SELECT {column}, SUM(amount_cents), "
        "SUM(CASE WHEN identified = 1 THEN 1 ELSE people END) "
        "FROM gifts_view WHERE campaign = ? AND status = ? AND value_date <= ? "
        f"GROUP BY {column}",
        (slug, CONFIRMED, as_of),
    )
    buckets = {
        key or "": {"raised_cents": int(raised), "gifts": int(gifts)} for key, raised, gifts in rows
    }
    for key, taken in session.query(
        f"SELECT {column}, SUM(amount_cents) FROM money_movements WHERE campaign = ? "
        f"AND on_date <= ? GROUP BY {column}",
        (slug, as_of),
    ):
        bucket = buckets.setdefault(key or "", {"raised_cents": 0, "gifts": 0})
        bucket["raised_cents"] -= int(taken)
    return dict(sorted(buckets.items()))


def recount_progress(session: Session, campaign: CampaignRow, as_of: date) -> dict[str, Any]:
    """`campaign_progress` counted again from every gift, refund and registry entry: the
    definitions themselves, against which the running sums are checked."""
    day = as_of.isoformat()
    received, fees, identified_gifts, anonymous_people = session.one(
        "SELECT COALESCE(SUM(amount_cents), 0), COALESCE(SUM(fees_cents), 0), "
        "COALESCE(SUM(CASE WHEN identified = 1 THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN identified = 0 THEN people ELSE 0 END), 0) "
        "FROM gifts_view WHERE campaign = ? AND status = ? AND value_date <= ?",
        (campaign.slug, CONFIRMED, day),
    ) or (0, 0, 0, 0)
    taken: dict[str, int] = dict(
        session.query(
            "SELECT kind, SUM(amount_cents) FROM money_movements "
            "WHERE campaign = ? AND on_date <= ? GROUP BY kind",
            (campaign.slug, day),
        )
    )
    refunded = int(taken.get("refund", 0))
    disputed = int(taken.get("dispute_lost", 0))
    contacts = int(
        session.scalar(
            "SELECT COUNT(DISTINCT donor_id) FROM registry_gifts WHERE campaign = ? AND status = ? "
            "AND value_date <= ?",
            (campaign.slug, CONFIRMED, day),
            default=0,
        )
    )
    raised = int(received) - refunded - disputed
    fees = int(fees)
    return {
        "campaign": campaign.slug,
        "name": campaign.name,
        "target_cents": campaign.target_cents,
        "raised_cents": raised,
        "received_cents": int(received),
        "refunded_cents": refunded,
        "disputed_cents": disputed,
        "fees_cents": fees,
        "net_cents": raised - fees,
        "donors": contacts + int(anonymous_people),
        "gifts": int(identified_gifts) + int(anonymous_people),
        "contacts": contacts,
        "anonymous_people": int(anonymous_people),
        **monthly_running(session, campaign.slug, day),
        "progress": round(raised / campaign.target_cents, 4) if campaign.target_cents else None,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "as_of": day,
        "by_channel": _recounted_buckets(session, "channel", campaign.slug, day),
        "by_district": _recounted_buckets(session, "district", campaign.slug, day),
    }


def progress(
    database: Database, slug: str | None = None, as_of: date | None = None
) -> list[dict[str, Any]]:
    """One figure set per campaign (or the one asked for), as of a value date (default today)."""
    day = as_of or today()
    with database.reading() as session:
        campaigns = list_campaigns(session)
        if slug is not None:
            campaigns = [c for c in campaigns if c.slug == slug]
            if not campaigns:
                raise NotFoundError(f"unknown campaign {slug!r}")
        return [campaign_progress(session, campaign, day) for campaign in campaigns]


def raised_over_time(
    database: Database, slug: str
) -> tuple[list[tuple[date, int]], list[tuple[str, int]]]:
    """Cumulative raised by value date (refunds and lost disputes taken off on their day),
    and raised per month as (`mm/yyyy`, cents)."""
    with database.reading() as session:
        days = sums_by_day(session, slug)
        months = received_by_month(session, slug)
    total, points = 0, []
    for day_text, received, gifts, taken, movements in sorted(days):
        if not gifts and not movements:
            continue
        total += received - taken
        points.append((date.fromisoformat(day_text), total))
    return points, [(f"{m[5:7]}/{m[:4]}", cents) for m, cents in months]


def recount_raised_over_time(
    database: Database, slug: str
) -> tuple[list[tuple[date, int]], list[tuple[str, int]]]:
    """`raised_over_time` counted again from every gift and refund."""
    with database.reading() as session:
        daily = session.query(
            "SELECT value_date, SUM(amount_cents) FROM gifts_view WHERE campaign = ? AND "
            "status = ? GROUP BY value_date",
            (slug, CONFIRMED),
        )
        taken = session.query(
            "SELECT on_date, -SUM(amount_cents) FROM money_movements WHERE campaign = ? "
            "GROUP BY on_date",
            (slug,),
        )
        months = session.query(
            "SELECT SUBSTR(value_date, 1, 7), SUM(amount_cents) FROM gifts_view WHERE "
            "campaign = ? AND status = ? GROUP BY SUBSTR(value_date, 1, 7) "
            "ORDER BY 1",
            (slug, CONFIRMED),
        )
    by_day: dict[str, int] = {}
    for day_text, cents in [*daily, *taken]:
        by_day[day_text] = by_day.get(day_text, 0) + int(cents)
    total, points = 0, []
    for day_text in sorted(by_day):
        total += by_day[day_text]
        points.append((date.fromisoformat(day_text), total))
    return points, [(f"{m[5:7]}/{m[:4]}", int(c)) for m, c in months]


@dataclass(frozen=True)
class LatestGift:
    """One line of a campaign's public list: no donor, only the town when it may be shown
    (the district of a stand, or the district town a donor agreed to show)."""

    amount_cents: int
    value_date: str
    people: int
    place: str


def latest_gifts(
    database: Database, slug: str, limit: int = 10, as_of: date | None = None
) -> list[LatestGift]:
    """The campaign's newest confirmed gifts up to a value date (default today) that were not
    refunded in full, newest first."""
    with database.reading() as session:
        rows = session.query(
            "SELECT amount_cents, value_date, people, channel, district, public_place "
            "FROM gifts_view WHERE campaign = ? AND status = ? AND people > 0 "
            "AND value_date <= ? AND refunded_cents < amount_cents "
            "ORDER BY recorded_at DESC, donation_id LIMIT ?",
            (slug, CONFIRMED, (as_of or today()).isoformat(), limit),
        )
    return [
        LatestGift(
            int(amount),
            str(day),
            int(people),
            str(place or (district if channel == "stand" else "") or ""),
        )
        for amount, day, people, channel, district, place in rows
    ]
