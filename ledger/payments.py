"""Online payments, whatever the provider: notices may arrive late, twice or out of order."""

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event
from eventsourcing.utils import register_topic

from ledger.bounds import check, check_amount, check_date, check_text
from ledger.errors import InvalidInputError
from ledger.keys import natural_id

if TYPE_CHECKING:
    from ledger.donation import Donation

# What a notice about a payment can say; the donation applies each idempotently.
CONFIRMED, FAILED, REFUNDED, REFUND_FAILED = "confirmed", "failed", "refunded", "refund_failed"
DISPUTE_OPENED, DISPUTE_CLOSED = "dispute_opened", "dispute_closed"
METHOD = "method"  # how the donor really paid; `reference` holds the method
KINDS = (CONFIRMED, FAILED, REFUNDED, REFUND_FAILED, DISPUTE_OPENED, DISPUTE_CLOSED, METHOD)


@dataclass(frozen=True)
class PaymentNotice:
    """Something the provider says about a payment we may not have recorded yet."""

    kind: str
    on: date
    reference: str = ""  # refund or dispute id
    amount_cents: int = 0
    outcome: str = ""  # disputes: won or lost
    reason: str = ""

    def __post_init__(self) -> None:
        # Checked here, where a notice enters, rather than only when it applies: a notice that
        # waits for its payment would otherwise be stored unchecked and refused only once the
        # payment arrives, failing that delivery instead of its own.
        if self.kind not in KINDS:
            check("kind", f"not a payment notice: {self.kind!r}")
        check_date("on", self.on)
        check_text("reference", self.reference)
        check_amount("amount", self.amount_cents, least=0)
        check_text("outcome", self.outcome)
        check_text("reason", self.reason, multiline=True)

    @property
    def takes_money_back(self) -> bool:
        """A refund or a lost dispute: it waits until the payment is confirmed."""
        return self.kind == REFUNDED or (self.kind == DISPUTE_CLOSED and self.outcome == "lost")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "on": self.on.isoformat(),
            "reference": self.reference,
            "amount_cents": self.amount_cents,
            "outcome": self.outcome,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PaymentNotice":
        return cls(**{**data, "on": date.fromisoformat(data["on"])})

    def apply_to(self, donation: "Donation") -> None:
        """What this notice changes on the gift; each change is idempotent."""
        if self.kind == CONFIRMED:
            donation.confirm_payment(self.on)
        elif self.kind == FAILED:
            donation.fail_payment(self.on, self.reason)
        elif self.kind == REFUNDED:
            donation.refund(self.reference, self.amount_cents, self.on, self.reason)
        elif self.kind == REFUND_FAILED:
            donation.fail_refund(self.reference, self.on)
        elif self.kind == DISPUTE_OPENED:
            donation.open_dispute(self.reference, self.amount_cents, self.on)
        elif self.kind == DISPUTE_CLOSED:
            donation.close_dispute(self.reference, self.outcome, self.amount_cents, self.on)
        elif self.kind == METHOD:
            donation.learn_method(self.reference)
        else:
            raise InvalidInputError(f"unknown payment notice {self.kind!r}")


class ParkedNotices(Aggregate):
    """Notices about a payment that is not recorded yet (a refund before its payment), or not
    confirmed yet (a refund of a pending SEPA debit): kept here under the gift's key until
    they can apply."""

    class Opened(Aggregate.Created):
        source_key: str

    class Parked(Aggregate.Event):
        notice: dict[str, Any]

    class Released(Aggregate.Event):
        count: int

    @staticmethod
    def create_id(source_key: str) -> UUID:  # type: ignore[override]
        return natural_id("parked", source_key)

    @event(Opened)
    def __init__(self, source_key: str) -> None:
        self.source_key = source_key
        self.notices: list[dict[str, Any]] = []
        self.released = 0

    @event(Parked)
    def park(self, notice: dict[str, Any]) -> None:
        self.notices.append(notice)

    def waiting(self) -> list[PaymentNotice]:
        return [PaymentNotice.from_dict(n) for n in self.notices[self.released :]]

    def is_waiting(self, notice: PaymentNotice) -> bool:
        return notice.to_dict() in self.notices[self.released :]

    def release(self, kept: list[PaymentNotice]) -> None:
        """The waiting notices were handled, except `kept`, which wait again."""
        count = len(self.notices)
        if self.released < count:
            for notice in kept:
                self.park(notice.to_dict())
            self._released(count=count)

    @event(Released)
    def _released(self, count: int) -> None:
        self.released = count


class PaymentLink(Aggregate):
    """A payment (a PaymentIntent) that is the money of a gift recorded under another key: a
    month of a monthly gift is keyed by its invoice, while refunds and disputes name only the
    payment. Recorded once; the same link again is a no-op."""

    class Linked(Aggregate.Created):
        payment_key: str
        gift_key: str

    @staticmethod
    def create_id(payment_key: str) -> UUID:  # type: ignore[override]
        return natural_id("payment-link", payment_key)

    @event(Linked)
    def __init__(self, payment_key: str, gift_key: str) -> None:
        self.payment_key = payment_key
        self.gift_key = gift_key


class RetiredEvent(DomainEvent):
    """An event of a kind the ledger no longer records. Decoded so that history stays
    readable (catch-up, rebuild, backup); no read model applies it."""


# A monthly gift was also recorded as a `RecurringGift` aggregate, Started at checkout and
# Cancelled with the subscription, that nothing ever read: each paid month is a Donation of
# its own, whose `instalment` says first or later month, and that is all any figure, receipt
# or e-mail uses. So it is no longer recorded. History is never rewritten: events already
# stored keep their topics, and those topics decode as RetiredEvent.
for _kind in ("Started", "Cancelled"):
    register_topic(f"ledger.payments:RecurringGift.{_kind}", RetiredEvent)
