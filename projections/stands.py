"""Stands and bank deposits: the lists volunteers and staff see, and the cash reconciliation."""

import json
from typing import Any

from ledger.deposit import BankDeposit
from ledger.stand import StandCollection
from projections.database import Session
from projections.runner import Projection


class Stands(Projection):
    name = "stands"
    version = 1
    tables = ("stands_view", "deposits_view", "deposit_stands")
    handles = (
        StandCollection.Opened,
        StandCollection.GiftTallied,
        StandCollection.TallyUndone,
        StandCollection.NamedGiftLogged,
        StandCollection.Closed,
        BankDeposit.Recorded,
    )

    def create_tables(self, session: Session) -> None:
        session.execute("""CREATE TABLE stands_view (
            stand_id TEXT PRIMARY KEY,
            campaign TEXT NOT NULL,
            place TEXT NOT NULL,
            comune TEXT NOT NULL,
            district TEXT NOT NULL,
            day TEXT NOT NULL,
            volunteers TEXT NOT NULL,
            status TEXT NOT NULL,
            tallied INTEGER NOT NULL DEFAULT 0,
            named INTEGER NOT NULL DEFAULT 0,
            named_cents BIGINT NOT NULL DEFAULT 0,
            counted_cents BIGINT,
            anonymous_cents BIGINT
        )""")
        session.execute("""CREATE TABLE deposits_view (
            reference TEXT PRIMARY KEY,
            amount_cents BIGINT NOT NULL,
            on_date TEXT NOT NULL
        )""")
        session.execute("""CREATE TABLE deposit_stands (
            reference TEXT NOT NULL,
            stand_id TEXT NOT NULL,
            PRIMARY KEY (reference, stand_id)
        )""")

    def apply(self, session: Session, event: Any, position: int) -> None:
        stand_id = str(event.originator_id)
        if isinstance(event, StandCollection.Opened):
            session.execute(
                "INSERT INTO stands_view (stand_id, campaign, place, comune, district, day, "
                "volunteers, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'open')",
                (
                    stand_id,
                    event.campaign,
                    event.place,
                    event.comune,
                    event.district,
                    event.day.isoformat(),
                    json.dumps(event.volunteers),
                ),
            )
        elif isinstance(event, StandCollection.GiftTallied):
            self._add(session, stand_id, "tallied", 1)
        elif isinstance(event, StandCollection.TallyUndone):
            self._add(session, stand_id, "tallied", -1)
        elif isinstance(event, StandCollection.NamedGiftLogged):
            self._add(session, stand_id, "named", 1)
            self._add(session, stand_id, "named_cents", event.amount_cents)
        elif isinstance(event, StandCollection.Closed):
            session.execute(
                "UPDATE stands_view SET status = 'closed', counted_cents = ?, "
                "anonymous_cents = ? WHERE stand_id = ?",
                (event.counted_cents, event.anonymous_cents, stand_id),
            )
        elif isinstance(event, BankDeposit.Recorded):
            session.execute(
                "INSERT INTO deposits_view (reference, amount_cents, on_date) VALUES (?, ?, ?)",
                (event.reference, event.amount_cents, event.on.isoformat()),
            )
            session.executemany(
                "INSERT INTO deposit_stands (reference, stand_id) VALUES (?, ?)",
                [(event.reference, stand) for stand in event.stands],
            )

    def _add(self, session: Session, stand_id: str, column: str, amount: int) -> None:
        session.execute(
            f"UPDATE stands_view SET {column} = {column} + ? WHERE stand_id = ?", (amount, stand_id)
        )


def list_stands(session: Session, status: str | None = None) -> list[dict[str, Any]]:
    columns = (
        "stand_id",
        "campaign",
        "place",
        "comune",
        "district",
        "day",
        "status",
        "tallied",
        "named",
        "counted_cents",
    )
    where = "WHERE status = ?" if status else ""
    rows = session.query(
        f"SELECT {', '.join(columns)} FROM stands_view {where} ORDER BY day DESC, place",
        (status,) if status else (),
    )
    return [dict(zip(columns, row, strict=True)) for row in rows]


def reconciliation(session: Session) -> list[dict[str, Any]]:
    """One line per deposit (its stands' counted cash against the amount deposited), then one
    per closed stand still waiting for its deposit."""
    lines = []
    for reference, amount, on_date in session.query(
        "SELECT reference, amount_cents, on_date FROM deposits_view ORDER BY on_date, reference"
    ):
        stands = session.query(
            "SELECT s.place, s.day, COALESCE(s.counted_cents, 0) FROM deposit_stands d "
            "JOIN stands_view s ON s.stand_id = d.stand_id WHERE d.reference = ? "
            "ORDER BY s.day, s.place",
            (reference,),
        )
        counted = sum(int(c) for _p, _d, c in stands)
        lines.append(
            {
                "reference": reference,
                "on": on_date,
                "stands": [f"{place} ({day})" for place, day, _c in stands],
                "counted_cents": counted,
                "deposited_cents": int(amount),
                "difference_cents": int(amount) - counted,
            }
        )
    for place, day, counted in session.query(
        "SELECT place, day, counted_cents FROM stands_view WHERE status = 'closed' AND "
        "stand_id NOT IN (SELECT stand_id FROM deposit_stands) ORDER BY day, place"
    ):
        lines.append(
            {
                "reference": None,
                "on": None,
                "stands": [f"{place} ({day})"],
                "counted_cents": int(counted),
                "deposited_cents": 0,
                "difference_cents": -int(counted),
            }
        )
    return lines
