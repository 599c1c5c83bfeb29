"""Stripe adapter: Checkout Sessions out, webhook events in (as ledger commands), fees after."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import stripe

from ledger.application import LedgerApplication
from ledger.dates import local_day, today
from ledger.errors import (
    ChangedMeanwhileError,
    ConflictError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
)
from ledger.gift import (
    CONFIRMED,
    DISTRICTS,
    FIRST_MONTH,
    LATER_MONTH,
    PENDING,
    TRIBUTES,
    Gift,
    clean_tribute_name,
)
from ledger.identity import DonorDetails
from ledger.payments import CONFIRMED as PAYMENT_CONFIRMED
from ledger.payments import (
    DISPUTE_CLOSED,
    DISPUTE_OPENED,
    FAILED,
    METHOD,
    REFUND_FAILED,
    REFUNDED,
    PaymentNotice,
)
from web.stripe_shapes import MalformedEvent, check_event

log = logging.getLogger(__name__)
YES = ("true", "1", "yes", "sì", "si", "on")


def stripe_client(secret_key: str, api_base: str | None) -> stripe.StripeClient:
    """The official SDK's client; `api_base` points it elsewhere (the tests' fake server)."""
    if api_base:
        return stripe.StripeClient(
            secret_key, base_addresses={"api": api_base.rstrip("/")}, max_network_retries=1
        )
    return stripe.StripeClient(secret_key, max_network_retries=2)


def day_of(timestamp: int | None) -> date:
    """The foundation's calendar day (LEDGER_TIMEZONE) of a Stripe `created` timestamp."""
    if timestamp is None:
        return today()
    return local_day(int(timestamp))


def payment_key(reference: str) -> str:
    """The source key of the Donation for a PaymentIntent (or an invoice without one)."""
    return f"stripe:{reference}"


@dataclass(frozen=True)
class DonationRequest:
    """What the donation form asks Stripe Checkout for."""

    campaign: str
    campaign_name: str
    amount_cents: int
    monthly: bool
    tax_code: str
    privacy_consent: bool
    marketing_consent: bool
    success_url: str
    cancel_url: str
    locale: str = "it"
    # Included in amount_cents: the part the donor added to cover the card fee.
    covered_fee_cents: int = 0
    tribute_kind: str = ""
    tribute_name: str = ""
    show_place: bool = False

    def metadata(self) -> dict[str, str]:
        data = {
            "campaign": self.campaign,
            "tax_code": self.tax_code,
            "privacy_consent": str(self.privacy_consent).lower(),
            "marketing_consent": str(self.marketing_consent).lower(),
            "frequency": "monthly" if self.monthly else "once",
        }
        if self.covered_fee_cents:
            data["covered_fee_cents"] = str(self.covered_fee_cents)
        if self.tribute_kind:
            data.update(tribute_kind=self.tribute_kind, tribute_name=self.tribute_name)
        if self.show_place:
            data["show_place"] = "true"
        return data


def create_checkout(client: stripe.StripeClient, request: DonationRequest) -> str:
    """Create the Checkout Session and return the URL to send the donor to."""
    price: dict[str, Any] = {
        "currency": "eur",
        "unit_amount": request.amount_cents,
        "product_data": {"name": f"Donazione — {request.campaign_name}"},
    }
    params: dict[str, Any] = {
        "line_items": [{"price_data": price, "quantity": 1}],
        "metadata": request.metadata(),
        "success_url": request.success_url + "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": request.cancel_url,
        "locale": request.locale,
        "billing_address_collection": "required" if request.tax_code else "auto",
        "phone_number_collection": {"enabled": True},
    }
    if request.monthly:
        price["recurring"] = {"interval": "month"}
        params.update(
            mode="subscription",
            payment_method_types=["card", "sepa_debit"],
            subscription_data={"metadata": request.metadata()},
        )
    else:
        params.update(
            mode="payment",
            submit_type="donate",
            payment_method_types=["card", "sepa_debit"],
            payment_intent_data={"metadata": request.metadata()},
        )
    session = client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    return str(session.url)


def monthly_gift_portal(
    client: stripe.StripeClient, checkout_session_id: str, return_url: str, locale: str = "it"
) -> str | None:
    """The address of a customer portal session for the monthly gift started by a checkout
    session, or None when that session started no monthly gift."""
    checkout = client.v1.checkout.sessions.retrieve(checkout_session_id)
    if checkout.mode != "subscription" or not checkout.customer:
        return None
    customer = checkout.customer if isinstance(checkout.customer, str) else checkout.customer.id
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": customer, "return_url": return_url, "locale": locale}  # type: ignore[typeddict-item]
    )
    return str(portal.url)


def _donor(details: dict[str, Any] | None, metadata: dict[str, Any]) -> DonorDetails:
    """Donor details from Stripe's customer_details, plus the form's tax code."""
    details = details or {}
    address = details.get("address") or {}
    name = (details.get("name") or "").strip()
    first, _, last = name.rpartition(" ")
    try:
        return DonorDetails.parse(
            first_name=first or "",
            last_name=last or name,
            email=details.get("email"),
            phone=details.get("phone"),
            address=" ".join(filter(None, (address.get("line1"), address.get("line2")))),
            postcode=address.get("postal_code"),
            city=address.get("city"),
            province=address.get("state"),
            tax_code=metadata.get("tax_code"),
        )
    except InvalidInputError:
        # Stripe validated what the donor typed; keep what we can read rather than lose a gift.
        return DonorDetails.parse(
            first_name=first or "", last_name=last or name, email=details.get("email")
        )


def _gift(
    source_key: str,
    metadata: dict[str, Any],
    amount: int,
    created: int,
    details: dict[str, Any] | None,
    status: str,
    method: str,
    default_campaign: Callable[[], str],
    instalment: str = "",
) -> Gift:
    donor = _donor(details, metadata)
    tribute_kind, tribute_name = _tribute(metadata)
    return Gift(
        source_key=source_key,
        campaign=metadata.get("campaign") or default_campaign(),
        amount_cents=amount,
        value_date=day_of(created),
        channel="online",
        method=method,
        details=donor,
        privacy_consent=str(metadata.get("privacy_consent", "")).lower() in YES,
        marketing_consent=str(metadata.get("marketing_consent", "")).lower() in YES,
        status=status,
        instalment=instalment,
        covered_fee_cents=_covered_fee(metadata, amount),
        tribute_kind=tribute_kind,
        tribute_name=tribute_name,
        public_place=_public_place(metadata, donor),
    )


def _covered_fee(metadata: dict[str, Any], amount: int) -> int:
    """The fee the donor chose to cover, as the form put it in the metadata; none when it
    does not read as a part of the amount paid (the gift is recorded all the same)."""
    text = str(metadata.get("covered_fee_cents") or "")
    fee = int(text) if text.isdigit() else 0
    return fee if fee < amount else 0


def _tribute(metadata: dict[str, Any]) -> tuple[str, str]:
    kind = str(metadata.get("tribute_kind") or "")
    try:
        name = clean_tribute_name(str(metadata.get("tribute_name") or ""))
    except InvalidInputError:
        name = ""
    if kind not in TRIBUTES or not kind or not name:
        return "", ""
    return kind, name


def _public_place(metadata: dict[str, Any], donor: DonorDetails) -> str:
    """The donor's town for the public list, only when they ticked the box and the town is
    one of the districts' (large enough to identify nobody); otherwise nothing."""
    if str(metadata.get("show_place", "")).lower() not in YES:
        return ""
    city = " ".join(donor.city.split()).casefold()
    return next((district for district in DISTRICTS if district.casefold() == city), "")


def _instalment(invoice: dict[str, Any]) -> str:
    """Which month of a monthly gift an invoice is, by its `billing_reason`: the invoice that
    creates the subscription is the first month, every other subscription invoice (cycle,
    update, threshold) a later one; an invoice outside a subscription (manual, a quote) is
    no monthly gift at all."""
    reason = str(invoice.get("billing_reason") or "")
    if reason == "subscription_create":
        return FIRST_MONTH
    return LATER_MONTH if reason.startswith("subscription") else ""


class PaymentCommands(Protocol):
    """The ledger's online payment commands, as StripeEvents calls them: the ledger itself,
    or a stand-in that only checks them (the webhook, before a delivery enters the inbox)."""

    def receive_payment(self, gift: Gift, *notices: PaymentNotice) -> bool: ...

    def settle_payment(self, gift: Gift, notice: PaymentNotice) -> bool: ...

    def link_payment(self, payment_key: str, gift_key: str) -> bool: ...

    def gift_key_for(self, key: str) -> str: ...

    def notify_payment(self, source_key: str, notice: PaymentNotice) -> bool: ...

    def start_recurring(
        self, source_key: str, campaign: str, amount_cents: int, on: date
    ) -> bool: ...

    def cancel_recurring(
        self, source_key: str, campaign: str, amount_cents: int, on: date
    ) -> bool: ...


class StripeEvents:
    """Turns a verified Stripe event into ledger commands; never calls Stripe.

    How the donor paid: a session paid at checkout was paid by card, one completed `unpaid`
    and every `async_payment_*` by SEPA debit (the delayed method of the two the form offers);
    a monthly payment is recorded as card until its charge (`charge.pending` /
    `charge.succeeded`, `payment_method_details.type`) says otherwise, which also corrects any
    guess about a one-off payment."""

    def __init__(self, app: PaymentCommands, default_campaign: Callable[[], str]) -> None:
        self.app = app
        self.default_campaign = default_campaign

    def handle(self, event: dict[str, Any]) -> str:
        """What was done, for the log; unknown types are ignored. MalformedEvent (nothing
        recorded) when the event is not shaped as Stripe documents it; an event that
        contradicts the ledger is logged and answered "conflict" (see `apply`)."""
        try:
            return self.apply(event)
        except ChangedMeanwhileError:
            raise  # a lost race, not a contradiction: the caller tries again
        except ConflictError as conflict:
            log.warning("stripe event %s not applied: %s", event.get("id"), conflict)
            return "conflict"

    def apply(self, event: dict[str, Any]) -> str:
        """As `handle`, but an event that contradicts the ledger raises its ConflictError, for
        a caller that keeps such deliveries apart (the webhook inbox)."""
        event = check_event(event)
        handler = getattr(self, "_" + event["type"].replace(".", "_"), None)
        if handler is None:
            return "ignored"
        try:
            handler(event["data"]["object"], event["created"])
        except (InvalidInputError, NotFoundError) as refused:
            # Refused before anything was saved: Gift and the campaign are checked first.
            raise MalformedEvent(str(refused)) from None
        return "handled"

    # Checkout

    def _session_gift(self, session: dict[str, Any], status: str, method: str) -> Gift | None:
        if session["mode"] != "payment" or not session.get("payment_intent"):
            return None
        return _gift(
            payment_key(_id(session["payment_intent"])),
            session.get("metadata") or {},
            session["amount_total"],
            session["created"],
            session.get("customer_details"),
            status,
            method,
            self.default_campaign,
        )

    def _checkout_session_completed(self, session: dict[str, Any], created: int) -> None:
        if session["mode"] == "subscription" and session.get("subscription"):
            metadata = session.get("metadata") or {}
            self.app.start_recurring(
                payment_key(_id(session["subscription"])),
                metadata.get("campaign") or self.default_campaign(),
                session["amount_total"],
                day_of(created),
            )
            return
        paid = session["payment_status"] == "paid"
        if session["payment_status"] not in ("paid", "unpaid"):
            return  # no_payment_required: nothing was given
        gift = self._session_gift(
            session, CONFIRMED if paid else PENDING, "card" if paid else "sepa_debit"
        )
        if gift is not None:
            self.app.receive_payment(gift)

    def _checkout_session_async_payment_succeeded(
        self, session: dict[str, Any], created: int
    ) -> None:
        gift = self._session_gift(session, PENDING, "sepa_debit")
        if gift is not None:
            self.app.settle_payment(gift, PaymentNotice(PAYMENT_CONFIRMED, day_of(created)))

    def _checkout_session_async_payment_failed(self, session: dict[str, Any], created: int) -> None:
        gift = self._session_gift(session, PENDING, "sepa_debit")
        if gift is not None:
            self.app.settle_payment(
                gift, PaymentNotice(FAILED, day_of(created), reason="async payment failed")
            )

    # Monthly gifts

    def _invoice_paid(self, invoice: dict[str, Any], created: int) -> None:
        amount = invoice["amount_paid"]
        if amount <= 0:
            return
        metadata = _invoice_metadata(invoice)
        details = {
            "name": invoice.get("customer_name"),
            "email": invoice.get("customer_email"),
            "phone": invoice.get("customer_phone"),
            "address": invoice.get("customer_address"),
        }
        paid_at = (invoice.get("status_transitions") or {}).get("paid_at") or invoice["created"]
        if invoice.get("payment_intent"):
            # API versions before 2025-03-31 name the payment: the month is keyed by it, as it
            # always was, unless an InvoicePayment already tied the payment to the invoice.
            key = self.app.gift_key_for(payment_key(_id(invoice["payment_intent"])))
            intent = None
        else:
            # Newer versions name no payment: the month is keyed by its invoice, and
            # `invoice_payment.paid` (or an expanded `payments` list) says which payment it was.
            key = payment_key(invoice["id"])
            intent = _invoice_intent(invoice)
        self.app.receive_payment(
            _gift(
                key,
                metadata,
                amount,
                paid_at,
                details,
                CONFIRMED,
                "card",
                self.default_campaign,
                _instalment(invoice),
            )
        )
        if intent:
            self.app.link_payment(payment_key(intent), key)

    def _invoice_payment_paid(self, invoice_payment: dict[str, Any], created: int) -> None:
        payment = invoice_payment["payment"]
        if payment["type"] == "payment_intent" and payment.get("payment_intent"):
            self.app.link_payment(
                payment_key(_id(payment["payment_intent"])),
                payment_key(_id(invoice_payment["invoice"])),
            )

    def _customer_subscription_deleted(self, subscription: dict[str, Any], created: int) -> None:
        metadata = subscription.get("metadata") or {}
        items = (subscription.get("items") or {}).get("data") or []
        amount = ((items[0].get("price") or {}).get("unit_amount") or 0) if items else 0
        self.app.cancel_recurring(
            payment_key(subscription["id"]),
            metadata.get("campaign") or self.default_campaign(),
            amount,
            day_of(subscription.get("canceled_at") or created),
        )

    # Charges: how the donor really paid

    def _charge_method(self, charge: dict[str, Any], created: int) -> None:
        method = (charge.get("payment_method_details") or {}).get("type")
        if charge.get("payment_intent") and method in ("card", "sepa_debit"):
            self.app.notify_payment(
                payment_key(_id(charge["payment_intent"])),
                PaymentNotice(METHOD, day_of(charge["created"]), reference=method),
            )

    _charge_succeeded = _charge_method
    _charge_pending = _charge_method

    # Refunds and disputes

    def _refund(self, refund: dict[str, Any], created: int) -> None:
        intent = refund.get("payment_intent")
        if not intent:
            log.warning("refund %s names no payment intent: not applied", refund["id"])
            return
        status = refund["status"]
        if status in ("succeeded", "pending", "requires_action"):
            notice = PaymentNotice(
                REFUNDED,
                day_of(refund["created"]),
                refund["id"],
                refund["amount"],
                reason=refund.get("reason") or "",
            )
        elif status in ("failed", "canceled"):
            notice = PaymentNotice(REFUND_FAILED, day_of(created), refund["id"])
        else:
            return
        self.app.notify_payment(payment_key(_id(intent)), notice)

    def _charge_refunded(self, charge: dict[str, Any], created: int) -> None:
        # Since API version 2022-11-15 the refunds list is not sent: refund.* events carry them.
        for refund in (charge.get("refunds") or {}).get("data") or []:
            self._refund(
                {
                    **refund,
                    "payment_intent": refund.get("payment_intent") or charge.get("payment_intent"),
                },
                created,
            )

    _refund_created = _refund
    _refund_updated = _refund
    _refund_failed = _refund
    _charge_refund_updated = _refund

    def _dispute(self, dispute: dict[str, Any], created: int, closed: bool = False) -> None:
        """Any dispute event says what the dispute is now: open, or won or lost."""
        if not dispute.get("payment_intent"):
            log.warning("dispute %s names no payment intent: not applied", dispute["id"])
            return
        status = dispute["status"]
        if closed or status in ("won", "lost"):
            notice = PaymentNotice(
                DISPUTE_CLOSED,
                day_of(created),
                dispute["id"],
                dispute["amount"],
                outcome="lost" if status == "lost" else "won",
            )
        else:
            notice = PaymentNotice(
                DISPUTE_OPENED, day_of(dispute["created"]), dispute["id"], dispute["amount"]
            )
        self.app.notify_payment(payment_key(_id(dispute["payment_intent"])), notice)

    _charge_dispute_created = _dispute
    _charge_dispute_updated = _dispute
    _charge_dispute_funds_withdrawn = _dispute
    _charge_dispute_funds_reinstated = _dispute

    def _charge_dispute_closed(self, dispute: dict[str, Any], created: int) -> None:
        self._dispute(dispute, created, closed=True)


def _id(value: Any) -> str:
    """Stripe fields hold an id, or the expanded object carrying it."""
    return str(value["id"] if isinstance(value, dict) else value)


def _invoice_intent(invoice: dict[str, Any]) -> str | None:
    """Newer API versions list the invoice's payments instead of one payment_intent field."""
    for payment in (invoice.get("payments") or {}).get("data") or []:
        intent = (payment.get("payment") or {}).get("payment_intent")
        if intent:
            return _id(intent)
    return None


def _invoice_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    legacy = invoice.get("subscription_details") or {}
    return dict(parent.get("metadata") or legacy.get("metadata") or invoice.get("metadata") or {})


def sync_fees(
    app: LedgerApplication,
    client: stripe.StripeClient,
    source_keys: list[str],
    on_each: Callable[[str, int | None], None] | None = None,
) -> int:
    """Fetch each payment's processing fee from its balance transaction; returns how many
    fees were recorded or changed."""
    recorded = 0
    for source_key in source_keys:
        intent_id = source_key.removeprefix("stripe:")
        fee: int | None = None
        if intent_id.startswith("pi_"):
            intent = client.v1.payment_intents.retrieve(
                intent_id, params={"expand": ["latest_charge.balance_transaction"]}
            )
            charge = intent.latest_charge
            transaction = charge.balance_transaction if isinstance(charge, stripe.Charge) else None
            if isinstance(transaction, stripe.BalanceTransaction):
                fee = int(transaction.fee)
        if fee is not None:
            try:
                recorded += int(app.record_fee(source_key, fee, f"stripe:{intent_id}"))
            except LedgerError as error:
                log.warning("fee for %s not recorded: %s", source_key, error)
        if on_each is not None:
            on_each(source_key, fee)
    return recorded
