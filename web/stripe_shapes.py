"""The shape of each Stripe event Fondo handles, checked where it enters: a malformed one is
refused whole, with the first field that is wrong, before anything is recorded."""

from collections.abc import Callable
from typing import Any

from ledger.bounds import control_character_at

# A check returns the problem with `value` (found at `path`), or None when it fits.
Check = Callable[[Any, str], str | None]


class MalformedEvent(ValueError):
    """A signed event whose content is not what Stripe documents for its type."""


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def text(value: Any, path: str) -> str | None:
    return None if isinstance(value, str) else f"{path}: must be a string"


# 9999-12-31 23:59:59 UTC: a later timestamp has no calendar day (and no C time_t).
LAST_TIMESTAMP = 253_402_300_799


def timestamp(value: Any, path: str) -> str | None:
    return (
        None
        if _whole(value) and 0 <= value <= LAST_TIMESTAMP
        else f"{path}: must be a Unix timestamp"
    )


def cents(value: Any, path: str) -> str | None:
    return None if _whole(value) and value >= 0 else f"{path}: must be whole cents, 0 or more"


def positive_cents(value: Any, path: str) -> str | None:
    return None if _whole(value) and value > 0 else f"{path}: must be whole cents, more than 0"


def euro(value: Any, path: str) -> str | None:
    """The ledger counts euro cents: an amount in another currency (a payment link or another
    integration on the same Stripe account) must not be added to raised as if it were euro."""
    return None if value is None or value == "eur" else f"{path}: only euro (eur) is counted"


def ident(value: Any, path: str) -> str | None:
    """An id, or the expanded object that carries it."""
    if isinstance(value, dict):
        value = value.get("id")
    return None if isinstance(value, str) and value else f"{path}: must be an object id"


def labels(value: Any, path: str) -> str | None:
    """Stripe metadata: string keys and string values."""
    if not isinstance(value, dict):
        return f"{path}: must be an object of strings"
    wrong = next((key for key, item in value.items() if not isinstance(item, str)), None)
    return None if wrong is None else f"{path}.{wrong}: must be a string"


def optional(check: Check) -> Check:
    """Absent or null is fine; anything else must pass `check`."""

    def checked(value: Any, path: str) -> str | None:
        return None if value is None else check(value, path)

    return checked


def record(**fields: Check) -> Check:
    """An object with these fields; a field absent is passed to its check as None, so only
    `optional` ones may be missing. Other fields are Stripe's business."""

    def checked(value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return f"{path}: must be an object"
        for name, check in fields.items():
            problem = check(value.get(name), f"{path}.{name}")
            if problem:
                return problem
        return None

    return checked


def listing(item: Check) -> Check:
    """A Stripe list object: `{"object": "list", "data": [...]}`."""

    def checked(value: Any, path: str) -> str | None:
        problem = record()(value, path)
        if problem:
            return problem
        data = value.get("data")
        if not isinstance(data, list):
            return f"{path}.data: must be a list"
        return next(
            (p for i, entry in enumerate(data) if (p := item(entry, f"{path}.data[{i}]"))), None
        )

    return checked


ADDRESS = optional(
    record(
        line1=optional(text),
        line2=optional(text),
        postal_code=optional(text),
        city=optional(text),
        state=optional(text),
    )
)
METADATA = optional(labels)

CHECKOUT_SESSION = record(
    id=text,
    mode=text,
    currency=euro,
    created=timestamp,
    payment_status=text,
    metadata=METADATA,
    payment_intent=optional(ident),
    subscription=optional(ident),
    customer_details=optional(
        record(name=optional(text), email=optional(text), phone=optional(text), address=ADDRESS)
    ),
)


def checkout_session(value: Any, path: str) -> str | None:
    """A session that takes money states how much; a setup session need not."""
    problem = CHECKOUT_SESSION(value, path)
    if problem is None and value.get("mode") in ("payment", "subscription"):
        problem = cents(value.get("amount_total"), f"{path}.amount_total")
    return problem


INVOICE = record(
    id=text,
    amount_paid=cents,
    currency=euro,
    created=timestamp,
    metadata=METADATA,
    payment_intent=optional(ident),
    customer_name=optional(text),
    customer_email=optional(text),
    customer_phone=optional(text),
    customer_address=ADDRESS,
    status_transitions=optional(record(paid_at=optional(timestamp))),
    parent=optional(record(subscription_details=optional(record(metadata=METADATA)))),
    subscription_details=optional(record(metadata=METADATA)),
    payments=optional(listing(record(payment=optional(record(payment_intent=optional(ident)))))),
)

INVOICE_PAYMENT = record(
    id=text, invoice=ident, payment=record(type=text, payment_intent=optional(ident))
)

REFUND = record(
    id=text,
    amount=positive_cents,
    currency=euro,
    status=text,
    created=timestamp,
    payment_intent=optional(ident),
    reason=optional(text),
)

CHARGE = record(
    id=text,
    created=timestamp,
    payment_intent=optional(ident),
    refunds=optional(listing(REFUND)),
    payment_method_details=optional(record(type=text)),
)

DISPUTE = record(
    id=text,
    amount=positive_cents,
    currency=euro,
    status=text,
    created=timestamp,
    payment_intent=optional(ident),
)

SUBSCRIPTION = record(
    id=text,
    metadata=METADATA,
    canceled_at=optional(timestamp),
    items=optional(listing(record(price=optional(record(unit_amount=optional(cents)))))),
)

# Every event type the webhook applies, with the shape of its data.object.
SHAPES: dict[str, Check] = {
    "checkout.session.completed": checkout_session,
    "checkout.session.async_payment_succeeded": checkout_session,
    "checkout.session.async_payment_failed": checkout_session,
    "invoice.paid": INVOICE,
    "invoice_payment.paid": INVOICE_PAYMENT,
    "customer.subscription.deleted": SUBSCRIPTION,
    "charge.succeeded": CHARGE,
    "charge.pending": CHARGE,
    "charge.refunded": CHARGE,
    "refund.created": REFUND,
    "refund.updated": REFUND,
    "refund.failed": REFUND,
    "charge.refund.updated": REFUND,
    "charge.dispute.created": DISPUTE,
    "charge.dispute.updated": DISPUTE,
    "charge.dispute.funds_withdrawn": DISPUTE,
    "charge.dispute.funds_reinstated": DISPUTE,
    "charge.dispute.closed": DISPUTE,
}

# Stripe's event ids and types are short ASCII words (`evt_1NG8Du2eZvKYlo2CUI79vXWy`,
# `checkout.session.completed`); the inbox keys and indexes them.
NAME_LENGTH = 255


def name(value: Any, path: str) -> str | None:
    """An event's id or type: text, at most NAME_LENGTH characters, with nothing a database
    text column refuses (a control character, half of a UTF-16 pair)."""
    if not isinstance(value, str) or not value:
        return f"{path}: must be a string"
    if len(value) > NAME_LENGTH:
        return f"{path}: at most {NAME_LENGTH} characters"
    if control_character_at(value) is not None:
        return f"{path}: contains a control character"
    return None


ENVELOPE = record(id=name, type=name, created=timestamp, data=record(object=record()))


def check_event(event: Any) -> dict[str, Any]:
    """`event` when it is a Stripe event of the shape its type documents (unknown types: the
    envelope only); otherwise MalformedEvent saying what is wrong."""
    problem = ENVELOPE(event, "event")
    if problem is None:
        shape = SHAPES.get(event["type"])
        if shape is not None:
            problem = shape(event["data"]["object"], "data.object")
    if problem:
        raise MalformedEvent(problem)
    return dict(event)
