"""Donation stories as Stripe delivers them, built from Stripe's own published objects; an
independent model of the figures each story must give; what the foundation then sees."""

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from hypothesis import strategies as st

from projections.reports import progress
from projections.store import LedgerStore
from tests.fakestripe.fixtures import stripe_event, stripe_object, without

START = 1472724000  # 2016-09-01, Fare Legami's years 2-3
DAY = 86400
KINDS = ("card", "sepa_succeeds", "sepa_fails", "monthly_old_shape", "monthly_new_shape")


@dataclass(frozen=True)
class Refund:
    cents: int
    fails: bool


@dataclass(frozen=True)
class GiftStory:
    """One donor's gift and what happened to its money afterwards (the first month's, for a
    monthly gift). Refunds and the dispute never exceed the gift, as Stripe ensures."""

    kind: str
    donor: int
    amount: int
    refunds: tuple[Refund, ...] = ()
    dispute: str | None = None  # won or lost, for what the refunds left
    months: int = 1
    method: str = "card"  # how a monthly gift is paid

    @property
    def confirmed(self) -> bool:
        return self.kind != "sepa_fails"

    @property
    def dispute_cents(self) -> int:
        return self.amount - sum(refund.cents for refund in self.refunds if not refund.fails)


def gift_story(
    integer: Callable[[int, int], int], choice: Callable[[Sequence[Any]], Any], donors: int = 3
) -> GiftStory:
    """One story from a source of choices: Hypothesis's `draw` for properties, a seeded
    `random.Random` for long runs, so both draw from the same stories."""
    kind = choice(KINDS)
    amount = integer(100, 50_000)
    # As Stripe allows: each refund at most what the refunds that did not fail left, so one
    # may only fit once an earlier one has failed.
    refunds, left = [], amount
    for _ in range(integer(0, 3)):
        if left < 2:
            break
        refund = Refund(integer(1, left - 1), choice((False, True)))
        refunds.append(refund)
        left -= 0 if refund.fails else refund.cents
    monthly = kind.startswith("monthly")
    return GiftStory(
        kind=kind,
        donor=integer(0, donors - 1),
        amount=amount,
        refunds=tuple(refunds),
        dispute=choice((None, "won", "lost")),
        months=integer(1, 2) if monthly else 1,
        method=choice(("card", "sepa_debit")) if monthly else "card",
    )


@st.composite
def gift_stories(draw: st.DrawFn) -> GiftStory:
    return gift_story(
        lambda low, high: draw(st.integers(min_value=low, max_value=high)),
        lambda options: draw(st.sampled_from(options)),
    )


def random_gift_story(rng: random.Random, donors: int) -> GiftStory:
    return gift_story(rng.randint, rng.choice, donors)


def expected(stories: list[GiftStory]) -> dict[str, int]:
    """The figures the story must give, straight from the programme's definitions: confirmed
    gifts, minus refunds that did not fail and lost disputes; every online donor is known by
    e-mail, so donors are the distinct people with a confirmed gift."""
    confirmed = [story for story in stories if story.confirmed]
    received = sum(story.amount * story.months for story in confirmed)
    refunded = sum(r.cents for story in confirmed for r in story.refunds if not r.fails)
    disputed = sum(story.dispute_cents for story in confirmed if story.dispute == "lost")
    donors = len({story.donor for story in confirmed})
    return {
        "received_cents": received,
        "refunded_cents": refunded,
        "disputed_cents": disputed,
        "raised_cents": received - refunded - disputed,
        "gifts": sum(story.months for story in confirmed),
        "contacts": donors,
        "donors": donors,
    }


def expected_gifts(stories: list[GiftStory]) -> list[tuple[str, str, int, int]]:
    """Per gift: method, status, amount, refunded."""
    rows = []
    for story in stories:
        refunded = sum(r.cents for r in story.refunds if not r.fails) if story.confirmed else 0
        if story.kind.startswith("monthly"):
            rows += [
                (story.method, "confirmed", story.amount, refunded if month == 0 else 0)
                for month in range(story.months)
            ]
        else:
            method = "card" if story.kind == "card" else "sepa_debit"
            status = "confirmed" if story.confirmed else "failed"
            rows.append((method, status, story.amount, refunded))
    return sorted(rows)


class Deliveries:
    """The events Stripe sends for a story, in order, with ids unique to `tag`."""

    def __init__(self, tag: str, campaign: str) -> None:
        self.tag = tag
        self.campaign = campaign
        self.clock = START
        self.serial = itertools.count()
        self.events: list[dict[str, Any]] = []

    def id(self, prefix: str) -> str:
        return f"{prefix}_{self.tag}{next(self.serial):04d}"

    def send(self, kind: str, obj: dict[str, Any]) -> None:
        self.clock += 60
        self.events.append(stripe_event(self.id("evt"), kind, self.clock, obj))

    def details(self, donor: int) -> dict[str, Any]:
        return {
            "name": f"Donatrice Numero{donor}",
            "email": f"donor{donor}@example.org",
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
            "business_name": None,
            "individual_name": None,
            "address": {
                "city": None,
                "country": "IT",
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
        }

    def metadata(self, frequency: str) -> dict[str, str]:
        return {
            "campaign": self.campaign,
            "tax_code": "",
            "privacy_consent": "true",
            "marketing_consent": "false",
            "frequency": frequency,
        }

    def gift(self, story: GiftStory) -> None:
        self.clock += DAY
        intent = self.monthly(story) if story.kind.startswith("monthly") else self.once(story)
        self.money_back(story, intent)

    def session(
        self, story: GiftStory, mode: str, payment_status: str, intent: str | None
    ) -> dict[str, Any]:
        return stripe_object(
            "checkout.session",
            id=self.id("cs_test"),
            mode=mode,
            amount_total=story.amount,
            amount_subtotal=story.amount,
            currency="eur",
            created=self.clock,
            customer_details=self.details(story.donor),
            payment_intent=intent,
            payment_method_types=["card", "sepa_debit"],
            payment_status=payment_status,
            status="complete",
            metadata=self.metadata("once" if mode == "payment" else "monthly"),
            subscription=self.id("sub") if mode == "subscription" else None,
            submit_type="donate" if mode == "payment" else None,
        )

    def charge(self, intent: str, amount: int, method: str, status: str) -> dict[str, Any]:
        return stripe_object(
            "charge",
            id="ch_" + intent.removeprefix("pi_"),
            amount=amount,
            currency="eur",
            payment_intent=intent,
            created=self.clock,
            status=status,
            paid=status == "succeeded",
            payment_method_details={"type": method, method: {}},
        )

    def once(self, story: GiftStory) -> str:
        intent = self.id("pi")
        if story.kind == "card":
            session = self.session(story, "payment", "paid", intent)
            self.send(
                "payment_intent.succeeded",
                stripe_object(
                    "payment_intent",
                    id=intent,
                    amount=story.amount,
                    amount_received=story.amount,
                    currency="eur",
                    status="succeeded",
                    created=self.clock,
                    payment_method_types=["card", "sepa_debit"],
                ),
            )
            self.send("charge.succeeded", self.charge(intent, story.amount, "card", "succeeded"))
            self.send("checkout.session.completed", session)
            return intent
        session = self.session(story, "payment", "unpaid", intent)
        self.send("charge.pending", self.charge(intent, story.amount, "sepa_debit", "pending"))
        self.send("checkout.session.completed", session)
        succeeds = story.kind == "sepa_succeeds"
        self.send(
            f"checkout.session.async_payment_{'succeeded' if succeeds else 'failed'}",
            {**session, "payment_status": "paid" if succeeds else "unpaid"},
        )
        return intent

    def monthly(self, story: GiftStory) -> str:
        session = self.session(story, "subscription", "paid", None)
        self.send("checkout.session.completed", session)
        intents = []
        for month in range(story.months):
            self.clock += 30 * DAY
            intent, invoice_id = self.id("pi"), self.id("in")
            intents.append(intent)
            self.send(
                "charge.succeeded", self.charge(intent, story.amount, story.method, "succeeded")
            )
            details = self.details(story.donor)
            invoice = stripe_object(
                "invoice",
                id=invoice_id,
                amount_due=story.amount,
                amount_paid=story.amount,
                amount_remaining=0,
                created=self.clock,
                currency="eur",
                status="paid",
                billing_reason="subscription_create" if month == 0 else "subscription_cycle",
                customer_name=details["name"],
                customer_email=details["email"],
                customer_phone=None,
                customer_address=details["address"],
                status_transitions={
                    "finalized_at": self.clock,
                    "marked_uncollectible_at": None,
                    "paid_at": self.clock,
                    "voided_at": None,
                },
                parent={
                    "type": "subscription_details",
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": self.metadata("monthly"),
                        "subscription": session["subscription"],
                    },
                },
            )
            if story.kind == "monthly_new_shape":
                self.send("invoice.paid", without(invoice, "payment_intent", "payments"))
                self.send(
                    "invoice_payment.paid",
                    stripe_object(
                        "invoice_payment",
                        id=self.id("inpay"),
                        invoice=invoice_id,
                        amount_paid=story.amount,
                        amount_requested=story.amount,
                        currency="eur",
                        created=self.clock,
                        status="paid",
                        payment={"type": "payment_intent", "payment_intent": intent},
                        status_transitions={"canceled_at": None, "paid_at": self.clock},
                    ),
                )
            else:  # before 2025-03-31.basil: the invoice names its payment
                self.send(
                    "invoice.paid",
                    {
                        **without(invoice, "parent"),
                        "payment_intent": intent,
                        "subscription": session["subscription"],
                        "subscription_details": {"metadata": self.metadata("monthly")},
                    },
                )
        self.send(
            "customer.subscription.deleted",
            stripe_object(
                "subscription",
                id=session["subscription"],
                status="canceled",
                canceled_at=self.clock,
                metadata=self.metadata("monthly"),
                currency="eur",
            ),
        )
        return intents[0]

    def money_back(self, story: GiftStory, intent: str) -> None:
        refunds = []
        for refund in story.refunds:
            self.clock += DAY
            created = stripe_object(
                "refund",
                id=self.id("re"),
                amount=refund.cents,
                created=self.clock,
                currency="eur",
                payment_intent=intent,
                status="pending",
                charge="ch_" + intent.removeprefix("pi_"),
                reason="requested_by_customer",
            )
            self.send("refund.created", created)
            refunds.append(created)
            final = {**created, "status": "failed" if refund.fails else "succeeded"}
            self.send("refund.failed" if refund.fails else "refund.updated", final)
        if refunds:
            self.send(
                "charge.refunded",
                {
                    **self.charge(intent, story.amount, "card", "succeeded"),
                    "refunds": {"object": "list", "data": refunds, "has_more": False},
                },
            )
        if story.dispute is None or story.dispute_cents <= 0:
            return
        self.clock += DAY
        dispute = stripe_object(
            "dispute",
            id=self.id("dp"),
            amount=story.dispute_cents,
            currency="eur",
            created=self.clock,
            payment_intent=intent,
            charge="ch_" + intent.removeprefix("pi_"),
            status="needs_response",
            reason="fraudulent",
        )
        self.send("charge.dispute.created", dispute)
        self.send("charge.dispute.funds_withdrawn", dispute)
        self.clock += 10 * DAY
        if story.dispute == "won":
            self.send("charge.dispute.funds_reinstated", {**dispute, "status": "won"})
        self.send("charge.dispute.closed", {**dispute, "status": story.dispute})


def ledger_state(ledger: LedgerStore, campaign: str, tag: str) -> dict[str, Any]:
    """What the foundation sees of one campaign, with the run's tag taken out of every key."""
    ledger.runner.catch_up()
    with ledger.database.reading() as session:
        gifts = session.query(
            "SELECT source_key, method, status, amount_cents, refunded_cents, people, "
            "identified, value_date FROM gifts_view WHERE campaign = ?",
            (campaign,),
        )
        movements = session.query(
            "SELECT movement_key, kind, amount_cents, on_date FROM money_movements "
            "WHERE campaign = ?",
            (campaign,),
        )
    figures = progress(ledger.database, campaign, date(2030, 1, 1))[0]
    keys = (
        "received_cents",
        "refunded_cents",
        "disputed_cents",
        "raised_cents",
        "gifts",
        "contacts",
        "donors",
    )
    return {
        "gifts": sorted(tuple(str(v).replace(tag, "") for v in row) for row in gifts),
        "movements": sorted(tuple(str(v).replace(tag, "") for v in row) for row in movements),
        "figures": {key: figures[key] for key in keys},
    }
