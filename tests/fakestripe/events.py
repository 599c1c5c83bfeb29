"""Stripe Event payloads for donation stories, in the shapes of Stripe's API objects."""

import itertools
import time
from typing import Any

API_VERSION = "2025-03-31.basil"
START = int(time.mktime((2016, 9, 1, 12, 0, 0, 0, 0, -1)))


class StripeStory:
    """Hands out consistent ids and timestamps; each method returns the events of one gift."""

    def __init__(self, campaign: str = "fare-legami-anni-2-3", start: int = START) -> None:
        self.campaign = campaign
        self.clock = start
        self._serial = itertools.count(1)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._serial):06d}fondo"

    def _tick(self, seconds: int = 3600) -> int:
        self.clock += seconds
        return self.clock

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self._id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._tick(60),
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": obj},
            "request": {"id": None, "idempotency_key": None},
        }

    def metadata(
        self, tax_code: str = "", marketing: bool = False, frequency: str = "once"
    ) -> dict[str, str]:
        return {
            "campaign": self.campaign,
            "tax_code": tax_code,
            "privacy_consent": "true",
            "marketing_consent": str(marketing).lower(),
            "frequency": frequency,
        }

    @staticmethod
    def customer_details(
        name: str, email: str | None, phone: str | None = None, postcode: str | None = None
    ) -> dict[str, Any]:
        return {
            "name": name,
            "email": email,
            "phone": phone,
            "tax_exempt": "none",
            "tax_ids": [],
            "address": {
                "line1": "Via Dante 1" if postcode else None,
                "line2": None,
                "postal_code": postcode,
                "city": "Cremona" if postcode else None,
                "state": "CR" if postcode else None,
                "country": "IT",
            },
        }

    def session(
        self,
        amount: int,
        details: dict[str, Any],
        payment_status: str = "paid",
        mode: str = "payment",
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A session as /donate creates it: the donor chooses card or SEPA at Stripe."""
        intent = self._id("pi") if mode == "payment" else None
        return {
            "id": self._id("cs_test"),
            "object": "checkout.session",
            "livemode": False,
            "amount_subtotal": amount,
            "amount_total": amount,
            "currency": "eur",
            "created": self._tick(),
            "customer": self._id("cus"),
            "customer_details": details,
            "metadata": metadata or self.metadata(),
            "mode": mode,
            "payment_intent": intent,
            "payment_method_types": ["card", "sepa_debit"],
            "payment_status": payment_status,
            "status": "complete",
            "submit_type": "donate" if mode == "payment" else None,
            "subscription": self._id("sub") if mode == "subscription" else None,
            "invoice": self._id("in") if mode == "subscription" else None,
            "url": None,
        }

    # Stories: each returns the deliveries Stripe would make, in order.

    def card_gift(
        self, amount: int, details: dict[str, Any], tax_code: str = ""
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        session = self.session(amount, details, metadata=self.metadata(tax_code, True))
        intent = {
            "id": session["payment_intent"],
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": "eur",
            "status": "succeeded",
            "created": session["created"],
            "metadata": {},
        }
        return session, [
            self.event("payment_intent.succeeded", intent),
            self.event("checkout.session.completed", session),
        ]

    def sepa_gift(
        self, amount: int, details: dict[str, Any], succeeds: bool
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        session = self.session(amount, details, payment_status="unpaid")
        later = {**session, "payment_status": "paid" if succeeds else "unpaid"}
        outcome = "succeeded" if succeeds else "failed"
        return session, [
            self.event("checkout.session.completed", session),
            self.event(f"checkout.session.async_payment_{outcome}", later),
        ]

    def charge(
        self, intent: str, amount: int, method: str, status: str = "succeeded"
    ) -> dict[str, Any]:
        return {
            "id": "ch_" + intent.removeprefix("pi_"),
            "object": "charge",
            "amount": amount,
            "currency": "eur",
            "payment_intent": intent,
            "created": self._tick(),
            "status": status,
            "paid": status == "succeeded",
            "payment_method_details": {"type": method, method: {}},
        }

    def monthly_gift(
        self,
        amount: int,
        details: dict[str, Any],
        months: int,
        cancelled: bool,
        new_invoice_shape: bool,
        method: str = "card",
    ) -> list[dict[str, Any]]:
        """Each month: the charge, then the paid invoice; in the current API shape (from
        2025-03-31.basil) the invoice names no payment and an InvoicePayment links the two."""
        metadata = self.metadata(frequency="monthly")
        session = self.session(
            amount, details, payment_status="paid", mode="subscription", metadata=metadata
        )
        events = [self.event("checkout.session.completed", session)]
        for month in range(months):
            invoice_id = session["invoice"] if month == 0 else self._id("in")
            intent = self._id("pi")
            paid_at = self._tick(30 * 86400)
            invoice: dict[str, Any] = {
                "id": invoice_id,
                "object": "invoice",
                "amount_due": amount,
                "amount_paid": amount,
                "amount_remaining": 0,
                "billing_reason": "subscription_create" if month == 0 else "subscription_cycle",
                "created": paid_at,
                "currency": "eur",
                "customer": session["customer"],
                "customer_email": details["email"],
                "customer_name": details["name"],
                "customer_phone": details["phone"],
                "customer_address": details["address"],
                "status": "paid",
                "status_transitions": {"paid_at": paid_at},
            }
            events.append(self.event("charge.succeeded", self.charge(intent, amount, method)))
            if new_invoice_shape:  # no payment_intent; `payments` is not sent in webhooks
                invoice["parent"] = {
                    "type": "subscription_details",
                    "subscription_details": {
                        "metadata": metadata,
                        "subscription": session["subscription"],
                    },
                }
                events.append(self.event("invoice.paid", invoice))
                events.append(
                    self.event(
                        "invoice_payment.paid",
                        {
                            "id": self._id("inpay"),
                            "object": "invoice_payment",
                            "amount_paid": amount,
                            "amount_requested": amount,
                            "created": paid_at,
                            "currency": "eur",
                            "invoice": invoice_id,
                            "is_default": True,
                            "livemode": False,
                            "status": "paid",
                            "status_transitions": {"canceled_at": None, "paid_at": paid_at},
                            "payment": {"type": "payment_intent", "payment_intent": intent},
                        },
                    )
                )
            else:
                invoice["payment_intent"] = intent
                invoice["subscription"] = session["subscription"]
                invoice["subscription_details"] = {"metadata": metadata}
                events.append(self.event("invoice.paid", invoice))
        if cancelled:
            events.append(
                self.event(
                    "customer.subscription.deleted",
                    {
                        "id": session["subscription"],
                        "object": "subscription",
                        "status": "canceled",
                        "canceled_at": self._tick(),
                        "customer": session["customer"],
                        "metadata": metadata,
                        "items": {
                            "object": "list",
                            "data": [
                                {
                                    "id": self._id("si"),
                                    "object": "subscription_item",
                                    "price": {
                                        "id": self._id("price"),
                                        "object": "price",
                                        "unit_amount": amount,
                                        "currency": "eur",
                                        "recurring": {"interval": "month"},
                                    },
                                }
                            ],
                        },
                    },
                )
            )
        return events

    def refund(
        self, intent: str, amount: int, status: str = "succeeded", refund_id: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": refund_id or self._id("re"),
            "object": "refund",
            "amount": amount,
            "charge": "ch_" + intent.removeprefix("pi_"),
            "created": self._tick(),
            "currency": "eur",
            "payment_intent": intent,
            "reason": "requested_by_customer",
            "status": status,
        }

    def refunds(self, session: dict[str, Any], amounts: list[int]) -> list[dict[str, Any]]:
        intent = session["payment_intent"]
        refunds = [self.refund(intent, amount) for amount in amounts]
        charge = {
            "id": "ch_" + intent.removeprefix("pi_"),
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": sum(amounts),
            "currency": "eur",
            "payment_intent": intent,
            "created": session["created"],
            "refunded": sum(amounts) == session["amount_total"],
            "refunds": {"object": "list", "data": refunds},
        }
        return [self.event("refund.created", refund) for refund in refunds] + [
            self.event("charge.refunded", charge)
        ]

    def dispute(self, session: dict[str, Any], outcome: str) -> list[dict[str, Any]]:
        intent = session["payment_intent"]
        dispute = {
            "id": self._id("dp"),
            "object": "dispute",
            "amount": session["amount_total"],
            "charge": "ch_" + intent.removeprefix("pi_"),
            "created": self._tick(),
            "currency": "eur",
            "payment_intent": intent,
            "reason": "fraudulent",
            "status": "needs_response",
        }
        return [
            self.event("charge.dispute.created", dispute),
            self.event("charge.dispute.closed", {**dispute, "status": outcome}),
        ]

    def unknown(self) -> dict[str, Any]:
        return self.event("customer.created", {"id": self._id("cus"), "object": "customer"})
