"""Campaign totals: campaigns, every gift's money and status, and the refunds, disputes and fees."""

from collections.abc import Sequence
from typing import Any

from ledger.campaign import Campaign
from ledger.donation import Donation
from ledger.payments import RecurringGift
from projections.database import Session
from projections.day_sums import (
    add_many_to_days,
    change_gift,
    count_gifts,
    count_movement,
    create_day_sums,
    gift_changes,
    movement_change,
)
from projections.runner import Projection


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class CampaignTotals(Projection):
    name = "campaign_totals"
    version = 5
    # What the progress API and the campaign pages add up: never behind the registry's batch.
    leads = True
    tables = (
        "campaigns_view",
        "gifts_view",
        "money_movements",
        "monthly_gifts_view",
        "campaign_days",
    )

    def create_tables(self, session: Session) -> None:
        session.execute("""CREATE TABLE campaigns_view (
            slug TEXT PRIMARY KEY,
            campaign_id TEXT NOT NULL,
            name TEXT NOT NULL,
            target_cents BIGINT NOT NULL,
            starts_on TEXT,
            ends_on TEXT,
            ended_on TEXT,
            started_at TEXT NOT NULL
        )""")
        session.execute("""CREATE TABLE gifts_view (
            donation_id TEXT PRIMARY KEY,
            source_key TEXT NOT NULL,
            campaign TEXT NOT NULL,
            value_date TEXT NOT NULL,
            channel TEXT NOT NULL,
            method TEXT NOT NULL,
            district TEXT NOT NULL,
            stand TEXT NOT NULL,
            amount_cents BIGINT NOT NULL,
            people INTEGER NOT NULL,
            identified INTEGER NOT NULL,
            status TEXT NOT NULL,
            refunded_cents BIGINT NOT NULL DEFAULT 0,
            fees_cents BIGINT NOT NULL DEFAULT 0,
            recorded_at TEXT NOT NULL,
            covered_fee_cents BIGINT NOT NULL DEFAULT 0,
            public_place TEXT NOT NULL DEFAULT ''
        )""")
        session.execute("CREATE INDEX gifts_view_campaign ON gifts_view (campaign, value_date)")
        session.execute("""CREATE TABLE money_movements (
            movement_key TEXT PRIMARY KEY,
            donation_id TEXT NOT NULL,
            campaign TEXT NOT NULL,
            kind TEXT NOT NULL,
            amount_cents BIGINT NOT NULL,
            on_date TEXT NOT NULL,
            channel TEXT NOT NULL,
            district TEXT NOT NULL
        )""")
        session.execute("CREATE INDEX money_movements_campaign ON money_movements (campaign)")
        # Monthly gifts: each paid month is a gift of its own; this says which still run.
        session.execute("""CREATE TABLE monthly_gifts_view (
            recurring_id TEXT PRIMARY KEY,
            campaign TEXT NOT NULL,
            amount_cents BIGINT NOT NULL,
            started_on TEXT NOT NULL,
            cancelled_on TEXT
        )""")
        create_day_sums(session)

    def apply_batch(self, session: Session, events: Sequence[tuple[int, Any]]) -> None:
        """The gifts, their changes and the money taken back are gathered in memory, a run of
        such events at a time, and written at once; any other event goes through `apply`
        between two runs."""
        run: list[Any] = []
        for position, event in events:
            if isinstance(event, _GATHERED):
                run.append(event)
                continue
            _Run(session, run).write()
            run = []
            self.apply(session, event, position)
        _Run(session, run).write()

    def apply(self, session: Session, event: Any, position: int) -> None:
        """One event at a time: the reference `apply_batch` must agree with."""
        if isinstance(event, Campaign.Started):
            session.execute(
                "INSERT INTO campaigns_view (slug, campaign_id, name, target_cents, starts_on, "
                "ends_on, ended_on, started_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                (
                    event.slug,
                    str(event.originator_id),
                    event.name,
                    event.target_cents,
                    _iso(event.starts_on),
                    _iso(event.ends_on),
                    event.timestamp.isoformat(),
                ),
            )
        elif isinstance(event, Campaign.TargetChanged):
            session.execute(
                "UPDATE campaigns_view SET target_cents = ? WHERE campaign_id = ?",
                (event.target_cents, str(event.originator_id)),
            )
        elif isinstance(event, Campaign.Ended):
            session.execute(
                "UPDATE campaigns_view SET ended_on = ? WHERE campaign_id = ?",
                (_iso(event.on), str(event.originator_id)),
            )
        elif isinstance(event, Donation.Received):
            donation_id = str(event.originator_id)
            _write_gifts(session, {donation_id: _gift_row(event, donation_id)})
        elif isinstance(event, Donation.PaymentConfirmed):
            self._set_status(session, event, "confirmed")
        elif isinstance(event, Donation.PaymentFailed):
            self._set_status(session, event, "failed")
        elif isinstance(event, Donation.Refunded):
            self._move(
                session, event, f"refund:{event.refund_id}", "refund", event.amount_cents, event.on
            )
            session.execute(
                "UPDATE gifts_view SET refunded_cents = refunded_cents + ? WHERE donation_id = ?",
                (event.amount_cents, str(event.originator_id)),
            )
        elif isinstance(event, Donation.RefundFailed):
            amount = session.scalar(
                "SELECT amount_cents FROM money_movements WHERE movement_key = ?",
                (f"refund:{event.refund_id}",),
                default=0,
            )
            count_movement(session, f"refund:{event.refund_id}", -1)
            session.execute(
                "DELETE FROM money_movements WHERE movement_key = ?", (f"refund:{event.refund_id}",)
            )
            session.execute(
                "UPDATE gifts_view SET refunded_cents = refunded_cents - ? WHERE donation_id = ?",
                (amount, str(event.originator_id)),
            )
        elif isinstance(event, Donation.DisputeClosed) and event.outcome == "lost":
            self._move(
                session,
                event,
                f"dispute:{event.dispute_id}",
                "dispute_lost",
                event.amount_cents,
                event.on,
            )
        elif isinstance(event, Donation.Corrected):
            change_gift(
                session,
                str(event.originator_id),
                "UPDATE gifts_view SET amount_cents = ?, value_date = ? WHERE donation_id = ?",
                (event.amount_cents, event.value_date.isoformat(), str(event.originator_id)),
            )
        elif isinstance(event, Donation.MethodLearned):
            session.execute(
                "UPDATE gifts_view SET method = ? WHERE donation_id = ?",
                (event.method, str(event.originator_id)),
            )
        elif isinstance(event, RecurringGift.Started):
            session.execute(
                "INSERT INTO monthly_gifts_view (recurring_id, campaign, amount_cents, "
                "started_on, cancelled_on) VALUES (?, ?, ?, ?, NULL)",
                (
                    str(event.originator_id),
                    event.campaign,
                    event.amount_cents,
                    event.on.isoformat(),
                ),
            )
        elif isinstance(event, RecurringGift.Cancelled):
            session.execute(
                "UPDATE monthly_gifts_view SET cancelled_on = ? WHERE recurring_id = ?",
                (event.on.isoformat(), str(event.originator_id)),
            )
        elif isinstance(event, Donation.FeeRecorded):
            change_gift(
                session,
                str(event.originator_id),
                "UPDATE gifts_view SET fees_cents = ? WHERE donation_id = ?",
                (event.fee_cents, str(event.originator_id)),
            )

    def _set_status(self, session: Session, event: Any, status: str) -> None:
        change_gift(
            session,
            str(event.originator_id),
            "UPDATE gifts_view SET status = ? WHERE donation_id = ?",
            (status, str(event.originator_id)),
        )

    def _move(
        self, session: Session, event: Any, key: str, kind: str, amount_cents: int, on: Any
    ) -> None:
        gift = session.one(
            "SELECT campaign, channel, district FROM gifts_view WHERE donation_id = ?",
            (str(event.originator_id),),
        )
        if gift is None:  # pragma: no cover - a Donation's first event is always Received
            return
        session.execute(
            "INSERT INTO money_movements (movement_key, donation_id, campaign, kind, "
            "amount_cents, on_date, channel, district) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                str(event.originator_id),
                gift[0],
                kind,
                amount_cents,
                on.isoformat(),
                gift[1],
                gift[2],
            ),
        )
        count_movement(session, key, 1)


# What a page shows of a gift; a row of gifts_view holds these and when and how it came.
GIFT_COLUMNS = (
    "donation_id",
    "source_key",
    "campaign",
    "value_date",
    "channel",
    "method",
    "district",
    "stand",
    "amount_cents",
    "people",
    "identified",
    "status",
    "refunded_cents",
    "fees_cents",
)


GIFT_ROW = (*GIFT_COLUMNS, "recorded_at", "covered_fee_cents", "public_place")


def _gift_row(event: Any, donation_id: str) -> dict[str, Any]:
    return {
        "donation_id": donation_id,
        "source_key": event.source_key,
        "campaign": event.campaign,
        "value_date": event.value_date.isoformat(),
        "channel": event.channel,
        "method": event.method,
        "district": event.district,
        "stand": event.stand,
        "amount_cents": event.amount_cents,
        "people": event.donors,
        "identified": int(event.identified),
        "status": event.status,
        "refunded_cents": 0,
        "fees_cents": 0,
        "recorded_at": event.timestamp.isoformat(),
        "covered_fee_cents": event.covered_fee_cents,
        "public_place": event.public_place,
    }


def _write_gifts(session: Session, gifts: dict[str, dict[str, Any]]) -> None:
    """Insert the gathered gifts and add them to the running sums."""
    session.insert_rows(
        "gifts_view", GIFT_ROW, [[gift[c] for c in GIFT_ROW] for gift in gifts.values()]
    )
    count_gifts(session, gifts.values())


# What `_Run` applies in memory: a gift, what changes it, and the money taken back from it.
_GATHERED = (
    Donation.Received,
    Donation.PaymentConfirmed,
    Donation.PaymentFailed,
    Donation.Corrected,
    Donation.MethodLearned,
    Donation.FeeRecorded,
    Donation.Refunded,
    Donation.DisputeClosed,
)
MOVEMENT_ROW = (
    "movement_key",
    "donation_id",
    "campaign",
    "kind",
    "amount_cents",
    "on_date",
    "channel",
    "district",
)


class _Run:
    """Consecutive events of `_GATHERED`, applied as `CampaignTotals.apply` would one by one:
    the gifts they change read in one query, changed in memory, written back set-based with
    the new gifts and movements, and the running sums moved by the difference at once."""

    def __init__(self, session: Session, events: Sequence[Any]) -> None:
        self.session = session
        self.events = events
        self.new: dict[str, dict[str, Any]] = {}
        self.known: dict[str, dict[str, Any]] = {}
        self.before: dict[str, dict[str, Any]] = {}
        self.movements: list[list[Any]] = []
        received = {str(e.originator_id) for e in events if isinstance(e, Donation.Received)}
        wanted = sorted({str(e.originator_id) for e in events} - received)
        for condition, params in session.matching("donation_id", wanted):
            for row in session.query(
                f"SELECT {', '.join(GIFT_ROW)} FROM gifts_view WHERE {condition}", params
            ):
                gift = dict(zip(GIFT_ROW, row, strict=True))
                self.known[gift["donation_id"]] = gift
                self.before[gift["donation_id"]] = dict(gift)

    def write(self) -> None:
        for event in self.events:
            self._apply(event, str(event.originator_id))
        self._flush()

    def _apply(self, event: Any, donation_id: str) -> None:
        if isinstance(event, Donation.Received):
            if donation_id in self.new:  # a second one: the database says what it thinks
                self._flush()
            self.new[donation_id] = _gift_row(event, donation_id)
            return
        gift = self.new.get(donation_id) or self.known.get(donation_id)
        if gift is None:  # as an UPDATE of no row
            return
        if isinstance(event, Donation.PaymentConfirmed | Donation.PaymentFailed):
            confirmed = isinstance(event, Donation.PaymentConfirmed)
            gift["status"] = "confirmed" if confirmed else "failed"
        elif isinstance(event, Donation.Corrected):
            gift["amount_cents"] = event.amount_cents
            gift["value_date"] = event.value_date.isoformat()
        elif isinstance(event, Donation.MethodLearned):
            gift["method"] = event.method
        elif isinstance(event, Donation.FeeRecorded):
            gift["fees_cents"] = event.fee_cents
        elif isinstance(event, Donation.Refunded):
            self._move(gift, f"refund:{event.refund_id}", "refund", event.amount_cents, event.on)
            gift["refunded_cents"] += event.amount_cents
        elif isinstance(event, Donation.DisputeClosed) and event.outcome == "lost":
            key = f"dispute:{event.dispute_id}"
            self._move(gift, key, "dispute_lost", event.amount_cents, event.on)

    def _move(self, gift: dict[str, Any], key: str, kind: str, amount: int, on: Any) -> None:
        self.movements.append(
            [
                key,
                gift["donation_id"],
                gift["campaign"],
                kind,
                amount,
                on.isoformat(),
                gift["channel"],
                gift["district"],
            ]
        )

    def _flush(self) -> None:
        session = self.session
        changed = [
            gift
            for donation_id, gift in sorted(self.known.items())
            if gift != self.before[donation_id]
        ]
        session.insert_rows(
            "gifts_view", GIFT_ROW, [[gift[c] for c in GIFT_ROW] for gift in self.new.values()]
        )
        session.replace_rows(
            "gifts_view", "donation_id", GIFT_ROW, [[g[c] for c in GIFT_ROW] for g in changed]
        )
        session.insert_rows("money_movements", MOVEMENT_ROW, self.movements)
        add_many_to_days(
            session,
            [
                *gift_changes((gift, 1) for gift in self.new.values()),
                *gift_changes((self.before[gift["donation_id"]], -1) for gift in changed),
                *gift_changes((gift, 1) for gift in changed),
                *(
                    movement_change(campaign, on, channel, district, kind, amount, 1)
                    for _, _, campaign, kind, amount, on, channel, district in self.movements
                ),
            ],
        )
        self.new.clear()
        self.movements = []
        self.before.update((gift["donation_id"], dict(gift)) for gift in changed)


def gift(session: Session, donation_id: str) -> dict[str, Any] | None:
    """One gift with the registry entry it belongs to (None when unidentified)."""
    row = session.one(
        f"SELECT {', '.join(GIFT_COLUMNS)} FROM gifts_view WHERE donation_id = ?", (donation_id,)
    )
    if row is None:
        return None
    donor_id = session.scalar(
        "SELECT donor_id FROM registry_gifts WHERE donation_id = ?", (donation_id,)
    )
    return {**dict(zip(GIFT_COLUMNS, row, strict=True)), "donor_id": donor_id}


def stripe_gifts_without_fee(session: Session) -> list[str]:
    """Source keys of confirmed Stripe gifts whose fee is not known yet, oldest first."""
    return [
        row[0]
        for row in session.query(
            "SELECT source_key FROM gifts_view WHERE source_key LIKE ? "
            "AND status = 'confirmed' AND fees_cents = 0 ORDER BY value_date",
            ("stripe:%",),
        )
    ]
