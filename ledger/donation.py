"""Donation: one gift, or one anonymous tally of many givers, and what happens to its money."""

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from ledger.bounds import check_amount, check_date, check_text
from ledger.errors import ConflictError, InvalidInputError
from ledger.gift import CONFIRMED, FAILED, METHODS, Gift, donation_id
from ledger.money_back import check_correction, check_money_back
from ledger.texts import N_


class Donation(Aggregate):
    """The money of one gift; refunds, fees and disputes are new events on it."""

    class Received(Aggregate.Created):
        source_key: str
        campaign: str
        amount_cents: int
        donors: int
        identified: bool
        channel: str
        method: str
        value_date: date
        district: str
        stand: str
        status: str
        sealed_donor: str | None
        instalment: str
        covered_fee_cents: int
        public_place: str

        # Version 2 says which month of a monthly gift it is; earlier gifts did not know.
        # Version 3 says the fee the donor chose to cover and the town they let us show.
        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["instalment"] = ""

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["covered_fee_cents"] = 0
            state["public_place"] = ""

    class PaymentConfirmed(Aggregate.Event):
        on: date

    class PaymentFailed(Aggregate.Event):
        on: date
        reason: str

    class Refunded(Aggregate.Event):
        refund_id: str
        amount_cents: int
        on: date
        reason: str

    class RefundFailed(Aggregate.Event):
        refund_id: str
        on: date

    class Corrected(Aggregate.Event):
        amount_cents: int
        value_date: date
        reason: str
        by: str

    class FeeRecorded(Aggregate.Event):
        fee_cents: int
        source: str

    class DisputeOpened(Aggregate.Event):
        dispute_id: str
        amount_cents: int
        on: date

    class DisputeClosed(Aggregate.Event):
        dispute_id: str
        outcome: str
        amount_cents: int
        on: date

    class MethodLearned(Aggregate.Event):
        method: str

    @staticmethod
    def create_id(source_key: str) -> UUID:  # type: ignore[override]
        return donation_id(source_key)

    @classmethod
    def received_event(cls, donation_id: UUID, **fields: Any) -> "Donation.Received":
        """The event `Donation(**fields)` starts with, made without building the aggregate
        around it: what a large import stores (the aggregate cost more than all the rest of a
        row). The same event and the same stored bytes, so `__init__` must stay what it is,
        a plain record of the event's fields with no rule of its own; `donation_id` is
        `create_id(source_key)`, which the caller has at hand."""
        return cls.Received(
            originator_topic=get_topic(cls),
            originator_id=donation_id,
            originator_version=cls.INITIAL_VERSION,
            timestamp=cls.Received.create_timestamp(),
            **fields,
        )

    @event(Received)
    def __init__(
        self,
        source_key: str,
        campaign: str,
        amount_cents: int,
        donors: int,
        identified: bool,
        channel: str,
        method: str,
        value_date: date,
        district: str,
        stand: str,
        status: str,
        sealed_donor: str | None,
        instalment: str = "",
        covered_fee_cents: int = 0,
        public_place: str = "",
    ) -> None:
        self.source_key = source_key
        self.campaign = campaign
        self.amount_cents = amount_cents
        self.received = (amount_cents, value_date)
        self.donors = donors
        self.identified = identified
        self.channel = channel
        self.method = method
        self.value_date = value_date
        self.district = district
        self.stand = stand
        self.status = status
        self.sealed_donor = sealed_donor
        self.instalment = instalment
        self.covered_fee_cents = covered_fee_cents
        self.public_place = public_place
        self.received_method = method
        self.refunds: dict[str, int] = {}
        self.failed_refunds: set[str] = set()
        self.fees_cents = 0
        self.disputes: dict[str, str] = {}
        self.lost_disputes: dict[str, int] = {}

    def same_money_as(self, gift: Gift) -> bool:
        """Whether a resent gift says what this donation first said (personal data aside;
        later corrections do not make the original input a conflict)."""
        return (
            self.campaign,
            self.received[0],
            self.donors,
            self.channel,
            self.received_method,
            self.received[1],
            self.identified,
        ) == (
            gift.campaign,
            gift.amount_cents,
            gift.donors,
            gift.channel,
            gift.method,
            gift.value_date,
            gift.identified,
        )

    @property
    def refunded_cents(self) -> int:
        return sum(self.refunds.values())

    @property
    def taken_back_cents(self) -> int:
        """Money that left the gift again: refunds and lost disputes."""
        return self.refunded_cents + sum(self.lost_disputes.values())

    @property
    def money_can_leave(self) -> bool:
        """Only money that arrived can be refunded or lost in a dispute: until the payment is
        confirmed there is nothing to take back from raised."""
        return self.status == CONFIRMED

    def confirm_payment(self, on: date) -> None:
        if self.status == CONFIRMED:
            return
        if self.status == FAILED:
            raise ConflictError(N_("this payment already failed; it cannot be confirmed"))
        self._payment_confirmed(on=on)

    @event(PaymentConfirmed)
    def _payment_confirmed(self, on: date) -> None:
        self.status = CONFIRMED

    def fail_payment(self, on: date, reason: str) -> None:
        if self.status == FAILED:
            return
        if self.status == CONFIRMED:
            raise ConflictError(N_("this payment was confirmed; a refund is the way back"))
        self._payment_failed(on=on, reason=reason)

    @event(PaymentFailed)
    def _payment_failed(self, on: date, reason: str) -> None:
        self.status = FAILED

    def refund(self, refund_id: str, amount_cents: int, on: date, reason: str = "") -> bool:
        """Record a refund once per refund id; False when it was already recorded."""
        if refund_id in self.refunds or refund_id in self.failed_refunds:
            return False
        check_text("refund_id", refund_id)
        check_date("on", on)
        check_text("reason", reason, multiline=True)
        check_money_back(self, amount_cents, "refund")
        self._refunded(refund_id=refund_id, amount_cents=amount_cents, on=on, reason=reason)
        return True

    @event(Refunded)
    def _refunded(self, refund_id: str, amount_cents: int, on: date, reason: str) -> None:
        self.refunds[refund_id] = amount_cents

    def correct(self, amount_cents: int, value_date: date, reason: str, by: str) -> None:
        """A mistake put right by a new event that says what was wrong and why."""
        reason = check_correction(self, amount_cents, value_date, reason)
        self._corrected(amount_cents=amount_cents, value_date=value_date, reason=reason, by=by)

    @event(Corrected)
    def _corrected(self, amount_cents: int, value_date: date, reason: str, by: str) -> None:
        self.amount_cents = amount_cents
        self.value_date = value_date

    def fail_refund(self, refund_id: str, on: date) -> bool:
        """A refund the bank could not make: the money stays raised. Recorded even before the
        refund itself is known, because a refund id known as failed never counts later."""
        if refund_id in self.failed_refunds:
            return False
        self._refund_failed(refund_id=refund_id, on=on)
        return True

    @event(RefundFailed)
    def _refund_failed(self, refund_id: str, on: date) -> None:
        self.refunds.pop(refund_id, None)
        self.failed_refunds.add(refund_id)

    def record_fee(self, fee_cents: int, source: str) -> bool:
        """Processor fees, known after the fact; recorded once as their total."""
        check_amount("fee", fee_cents, least=0)
        if fee_cents == self.fees_cents:
            return False
        self._fee_recorded(fee_cents=fee_cents, source=source)
        return True

    @event(FeeRecorded)
    def _fee_recorded(self, fee_cents: int, source: str) -> None:
        self.fees_cents = fee_cents

    def open_dispute(self, dispute_id: str, amount_cents: int, on: date) -> bool:
        if dispute_id in self.disputes:
            return False
        check_text("dispute_id", dispute_id)
        check_amount("amount", amount_cents, least=0)
        self._dispute_opened(dispute_id=dispute_id, amount_cents=amount_cents, on=on)
        return True

    @event(DisputeOpened)
    def _dispute_opened(self, dispute_id: str, amount_cents: int, on: date) -> None:
        self.disputes[dispute_id] = "open"

    def close_dispute(self, dispute_id: str, outcome: str, amount_cents: int, on: date) -> bool:
        if outcome not in ("won", "lost"):
            raise InvalidInputError(f"a dispute is won or lost, not {outcome!r}")
        if self.disputes.get(dispute_id) in ("won", "lost"):
            return False
        check_text("dispute_id", dispute_id)
        check_amount("amount", amount_cents, least=0)
        if outcome == "lost":
            check_money_back(self, amount_cents, "lost dispute")
        self._dispute_closed(
            dispute_id=dispute_id, outcome=outcome, amount_cents=amount_cents, on=on
        )
        return True

    @event(DisputeClosed)
    def _dispute_closed(self, dispute_id: str, outcome: str, amount_cents: int, on: date) -> None:
        self.disputes[dispute_id] = outcome
        if outcome == "lost":
            self.lost_disputes[dispute_id] = amount_cents

    def learn_method(self, method: str) -> bool:
        """The provider says how the donor really paid (a monthly payment is recorded before
        its charge says card or SEPA); False when it is what we had."""
        if method not in METHODS:
            raise InvalidInputError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
        if method == self.method:
            return False
        self._method_learned(method=method)
        return True

    @event(MethodLearned)
    def _method_learned(self, method: str) -> None:
        self.method = method
