"""The fundraising report (rendiconto) of a campaign: income per stand and day, deposits,
expenses and the net result."""

from typing import Any

from ledger.campaign import Campaign
from projections.database import Session
from projections.runner import Projection


class Expenses(Projection):
    name = "campaign_expenses"
    version = 1
    tables = ("campaign_expenses",)
    handles = (Campaign.ExpenseRecorded,)

    def create_tables(self, session: Session) -> None:
        session.execute("""CREATE TABLE campaign_expenses (
            position BIGINT PRIMARY KEY,
            campaign TEXT NOT NULL,
            on_date TEXT NOT NULL,
            what TEXT NOT NULL,
            amount_cents BIGINT NOT NULL,
            by_whom TEXT NOT NULL
        )""")

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, Campaign.ExpenseRecorded):
            session.execute(
                "INSERT INTO campaign_expenses (position, campaign, on_date, what, "
                "amount_cents, by_whom) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    position,
                    event.slug,
                    event.on.isoformat(),
                    event.what,
                    event.amount_cents,
                    event.by,
                ),
            )


def fundraising_report(session: Session, slug: str) -> dict[str, Any]:
    """Stand income by stand and day (gifts as recorded at closing or imported), the
    deposits of those stands, the expenses, and income − expenses."""
    income = [
        {
            "stand": row[0] or "—",
            "district": row[1],
            "day": row[2],
            "people": int(row[3]),
            "cents": int(row[4]),
        }
        for row in session.query(
            "SELECT stand, district, value_date, SUM(people), SUM(amount_cents - refunded_cents) "
            "FROM gifts_view WHERE campaign = ? AND channel = 'stand' AND status = 'confirmed' "
            "GROUP BY stand, district, value_date ORDER BY value_date, stand",
            (slug,),
        )
    ]
    deposits = [
        {"reference": row[0], "on": row[1], "cents": int(row[2])}
        for row in session.query(
            "SELECT d.reference, d.on_date, d.amount_cents FROM deposits_view d WHERE EXISTS "
            "(SELECT 1 FROM deposit_stands ds JOIN stands_view s ON s.stand_id = ds.stand_id "
            "WHERE ds.reference = d.reference AND s.campaign = ?) ORDER BY d.on_date",
            (slug,),
        )
    ]
    expenses = [
        {"on": row[0], "what": row[1], "cents": int(row[2])}
        for row in session.query(
            "SELECT on_date, what, amount_cents FROM campaign_expenses WHERE campaign = ? "
            "ORDER BY on_date, position",
            (slug,),
        )
    ]
    income_cents = sum(line["cents"] for line in income)
    expense_cents = sum(line["cents"] for line in expenses)
    return {
        "income": income,
        "deposits": deposits,
        "expenses": expenses,
        "income_cents": income_cents,
        "expense_cents": expense_cents,
        "net_cents": income_cents - expense_cents,
        "places": sorted({line["stand"] for line in income}),
        "first_day": income[0]["day"] if income else None,
        "last_day": income[-1]["day"] if income else None,
    }
