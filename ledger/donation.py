"""Donation: one gift, or one anonymous tally of many givers, and what happens to its money."""

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.bounds import (
    MAX_DONORS,
    amount_problem,
    check_amount,
    check_date,
    check_text,
    count_problem,
    date_problem,
    text_problem,
)
from ledger.errors import ConflictError, InvalidInputError, raise_problems
from ledger.identity import DonorDetails
from ledger.keys import natural_id
from ledger.texts import N_

CHANNELS = ("stand", "online", "bank", "event", "other")
METHODS = ("cash", "card", "bank_transfer", "sepa_debit", "postal", "paypal", "cheque")
DISTRICTS = ("Cremona", "Crema", "Casalmaggiore")
CONFIRMED, PENDING, FAILED = "confirmed", "pending", "failed"
# Which month of a monthly gift a gift is: the first, a later one, or none (a one-off gift).
FIRST_MONTH, LATER_MONTH = "first", "later"
INSTALMENTS = ("", FIRST_MONTH, LATER_MONTH)
# A gift given in memory or in honour of someone names them; the name is sealed with the
# donor's own data (it is personal data too, and goes with an erasure).
IN_MEMORY, IN_HONOUR = "memory", "honour"
TRIBUTES = ("", IN_MEMORY, IN_HONOUR)
MAX_TRIBUTE_NAME = 120


def clean_tribute_name(text: str | None) -> str:
    """One line, spaces collapsed, at most MAX_TRIBUTE_NAME characters (else an error)."""
    name = " ".join((text or "").split())
    problems: dict[str, list[str]] = {}
    if problem := text_problem(name):
        problems["tribute_name"] = [problem]
    elif len(name) > MAX_TRIBUTE_NAME:
        problems["tribute_name"] = [f"at most {MAX_TRIBUTE_NAME} characters"]
    raise_problems(problems)
    return name


@dataclass(frozen=True)
class Gift:
    """A gift as a command receives it, checked on construction (all problems at once)."""

    source_key: str
    campaign: str
    amount_cents: int
    value_date: date
    channel: str
    method: str
    donors: int = 1
    details: DonorDetails = field(default_factory=DonorDetails)
    privacy_consent: bool = False
    marketing_consent: bool = False
    district: str = ""
    stand: str = ""
    status: str = CONFIRMED
    # The anonymous tally of a closed stand: the cash beyond the named gifts and the people
    # tapped. Either may be zero (every coin came from named givers; nobody was tapped), so
    # that closing never drops a tallied person nor invents one; both zero is no gift.
    tally: bool = False
    instalment: str = ""
    # Part of amount_cents the donor added to cover the processor's fee (already included).
    covered_fee_cents: int = 0
    tribute_kind: str = ""
    tribute_name: str = ""
    # The town shown on the public list of latest gifts, only with the donor's consent
    # (one of DISTRICTS: towns large enough that naming them identifies nobody).
    public_place: str = ""

    def __post_init__(self) -> None:
        problems: dict[str, list[str]] = {}
        least = 0 if self.tally else 1  # a stand's tally may be no cash, or nobody tapped
        if problem := amount_problem(self.amount_cents, least=least):
            problems["amount"] = [problem]
        if problem := date_problem(self.value_date):
            problems["date"] = [problem]
        for name in ("source_key", "campaign", "stand"):
            if problem := text_problem(getattr(self, name)):
                problems["reference" if name == "source_key" else name] = [problem]
        if self.tally:
            problems.update(self._tally_problems())
        if problem := count_problem(self.donors, least, MAX_DONORS):
            problems["donors"] = [N_("the people behind one gift go %(problem)s", problem=problem)]
        elif self.donors > 1 and self.details.has_any_personal_data:
            problems["donors"] = [
                N_("more than one donor only on anonymous rows (no identity fields)")
            ]
        if self.channel not in CHANNELS:
            problems["channel"] = [
                N_(
                    "unknown channel %(value)r (one of %(choices)s)",
                    value=self.channel,
                    choices=", ".join(CHANNELS),
                )
            ]
        if self.method not in METHODS:
            problems["method"] = [
                N_(
                    "unknown method %(value)r (one of %(choices)s)",
                    value=self.method,
                    choices=", ".join(METHODS),
                )
            ]
        if self.district and self.district not in DISTRICTS:
            problems["district"] = [
                N_(
                    "unknown district %(value)r (one of %(choices)s)",
                    value=self.district,
                    choices=", ".join(DISTRICTS),
                )
            ]
        if self.instalment not in INSTALMENTS:
            problems["instalment"] = [N_("the first or a later month of a monthly gift, or blank")]
        if self.covered_fee_cents and (
            amount_problem(self.covered_fee_cents) or self.covered_fee_cents >= self.amount_cents
        ):
            problems["covered_fee"] = [
                N_("a covered fee is part of the gift, less than its amount")
            ]
        if self.tribute_kind not in TRIBUTES:
            problems["tribute_kind"] = [N_("in memory, in honour, or blank")]
        elif bool(self.tribute_kind) != bool(self.tribute_name.strip()):
            problems["tribute_name"] = [N_("a gift in memory or in honour names the person")]
        elif problem := text_problem(self.tribute_name):
            problems["tribute_name"] = [problem]
        elif len(self.tribute_name) > MAX_TRIBUTE_NAME:
            problems["tribute_name"] = [N_("at most %(count)s characters", count=MAX_TRIBUTE_NAME)]
        if self.public_place and self.public_place not in DISTRICTS:
            problems["public_place"] = [
                N_("one of %(choices)s, or blank", choices=", ".join(DISTRICTS))
            ]
        if self.status not in (CONFIRMED, PENDING):
            problems["status"] = [N_("a new gift is either confirmed or pending")]
        if not self.source_key:
            problems["reference"] = [N_("a gift needs a key that makes a resend a no-op")]
        raise_problems(problems)

    def _tally_problems(self) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        if self.amount_cents == 0 and self.donors == 0:
            problems["amount"] = [N_("a tally of nobody and no cash is no gift")]
        if (self.channel, self.method) != ("stand", "cash") or (self.details.has_any_personal_data):
            problems["donors"] = [N_("a tally is the anonymous cash of a stand")]
        return problems

    @cached_property
    def donation_id(self) -> UUID:
        return Donation.create_id(self.source_key)

    @property
    def identified(self) -> bool:
        return self.details.is_identified


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
        return natural_id("donation", source_key)

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

    def money_back_waits(self, reference: str, amount_cents: int) -> bool:
        """Whether a refund or lost dispute not seen before must wait rather than apply: the
        payment is not confirmed yet, or it does not fit beside what was taken back so far
        (an earlier refund that is about to fail still counts)."""
        known = (
            reference in self.refunds
            or reference in self.failed_refunds
            or self.disputes.get(reference) in ("won", "lost")
        )
        return not known and (
            not self.money_can_leave or self.taken_back_cents + amount_cents > self.amount_cents
        )

    def _check_money_back(self, amount_cents: int, what: str) -> None:
        check_amount("amount", amount_cents)
        if not self.money_can_leave:
            raise ConflictError(
                N_(
                    "the payment is %(status)s, not confirmed: no %(what)s yet",
                    status=self.status,
                    what=what,
                )
            )
        if self.taken_back_cents + amount_cents > self.amount_cents:
            raise ConflictError(
                N_(
                    "refunds and lost disputes would exceed the gift: %(back)s > %(gift)s cents",
                    back=self.taken_back_cents + amount_cents,
                    gift=self.amount_cents,
                )
            )

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
        self._check_money_back(amount_cents, "refund")
        self._refunded(refund_id=refund_id, amount_cents=amount_cents, on=on, reason=reason)
        return True

    @event(Refunded)
    def _refunded(self, refund_id: str, amount_cents: int, on: date, reason: str) -> None:
        self.refunds[refund_id] = amount_cents

    def correct(self, amount_cents: int, value_date: date, reason: str, by: str) -> None:
        """A mistake put right by a new event that says what was wrong and why."""
        check_amount("amount", amount_cents)
        check_date("value_date", value_date)
        check_text("reason", reason, multiline=True)
        if amount_cents < self.taken_back_cents:
            raise ConflictError(
                N_("the corrected amount is below what was already refunded or lost in disputes")
            )
        if not reason.strip():
            raise InvalidInputError(
                N_("a correction needs its reason"), {"reason": [N_("required")]}
            )
        if (amount_cents, value_date) == (self.amount_cents, self.value_date):
            raise InvalidInputError(N_("nothing to correct: same amount and date"))
        self._corrected(
            amount_cents=amount_cents, value_date=value_date, reason=reason.strip(), by=by
        )

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
            self._check_money_back(amount_cents, "lost dispute")
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
