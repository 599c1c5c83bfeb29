"""A fake Stripe API on 127.0.0.1 for the endpoints Fondo calls, through the official SDK; with a
webhook address, its checkout and customer portal pages also deliver the signed events Stripe
would (`python -m tests.fakestripe`, or `./scripts/serve --fake-stripe`)."""

import html
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, request
from werkzeug.serving import make_server

from tests.fakestripe.fixtures import stripe_event, stripe_object, without
from tests.fakestripe.signing import sign


def nest(form: Iterator[tuple[str, str]]) -> dict[str, Any]:
    """`line_items[0][price_data][unit_amount]=2500` → {"line_items": [{"price_data": …}]}."""
    root: dict[str, Any] = {}
    for key, value in form:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part, following in zip(parts, parts[1:], strict=False):
            container: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                node[index] = node[index] if node[index] is not None else container
                node = node[index]
            else:
                node = node.setdefault(part, container)
        last = parts[-1]
        if isinstance(node, list):
            index = int(last)
            while len(node) <= index:
                node.append(None)
            node[index] = value
        else:
            node[last] = value
    return root


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Response:
    response = jsonify(error={"type": kind, "message": message})
    response.status_code = status
    return response


class FakeStripe:
    """Start with `with FakeStripe() as fake:`; point the app's STRIPE_API_BASE at fake.base_url."""

    def __init__(
        self, port: int = 0, webhook_url: str | None = None, webhook_secret: str | None = None
    ) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.sessions: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._app = self._build()
        self._server = make_server("127.0.0.1", port, self._app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeStripe":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()

    def add_payment(self, intent_id: str, amount: int, fee: int | None = None) -> None:
        """A paid PaymentIntent with its charge and balance transaction (fee 1.5% + €0.25)."""
        charged_fee = fee if fee is not None else round(amount * 0.015) + 25
        with self._lock:
            self.payments[intent_id] = {"amount": amount, "fee": charged_fee}

    def complete(self, session_id: str) -> dict[str, Any]:
        """The donor paid on the checkout page: the session is complete, with its customer
        and, for a monthly gift, its subscription (as `checkout.session.completed` says)."""
        suffix = session_id.removeprefix("cs_test_")
        with self._lock:
            session = self.sessions[session_id]
            session.update(
                status="complete",
                payment_status="paid",
                customer=f"cus_{suffix[:14]}",
                subscription=f"sub_{suffix[:14]}" if session["mode"] == "subscription" else None,
                payment_intent=f"pi_{suffix[:14]}" if session["mode"] == "payment" else None,
            )
            return dict(session)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def deliver(self, kind: str, obj: dict[str, Any]) -> None:
        """Send one signed event to the webhook address, as Stripe does; raises when the app
        does not answer 2xx (the page then says so)."""
        assert self.webhook_url and self.webhook_secret
        event = stripe_event("evt_" + secrets.token_hex(12), kind, int(time.time()), obj)
        payload = json.dumps(event).encode()
        delivery = urllib.request.Request(
            self.webhook_url,
            data=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign(payload, self.webhook_secret),
            },
        )
        with urllib.request.urlopen(delivery, timeout=30):
            pass

    def _paid(self, session: dict[str, Any], name: str, email: str) -> None:
        """What Stripe sends once the donor paid: the completed session and, for a monthly
        gift, the first month's paid invoice (in the current API shape)."""
        now = int(time.time())
        details = {
            "name": name,
            "email": email,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
            "address": {
                "line1": None,
                "line2": None,
                "postal_code": None,
                "city": None,
                "state": None,
                "country": "IT",
            },
        }
        fields = {k: session[k] for k in ("id", "mode", "metadata", "customer", "subscription")}
        completed = stripe_object(
            "checkout.session",
            **fields,
            amount_subtotal=session["amount_total"],
            amount_total=session["amount_total"],
            currency="eur",
            created=session["created"],
            customer_details=details,
            payment_intent=session["payment_intent"],
            payment_status="paid",
            status="complete",
            invoice=None,
        )
        self.deliver("checkout.session.completed", completed)
        if session["mode"] != "subscription":
            return
        invoice = stripe_object(
            "invoice",
            id="in_" + session["id"].removeprefix("cs_test_")[:14],
            amount_due=session["amount_total"],
            amount_paid=session["amount_total"],
            amount_remaining=0,
            created=now,
            currency="eur",
            status="paid",
            billing_reason="subscription_create",
            customer=session["customer"],
            customer_name=name,
            customer_email=email,
            customer_phone=None,
            customer_address=details["address"],
            status_transitions={
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": now,
                "voided_at": None,
            },
            parent={
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": session["metadata"],
                    "subscription": session["subscription"],
                },
            },
        )
        self.deliver("invoice.paid", without(invoice, "payment_intent", "payments"))

    def _cancelled(self, customer: str) -> None:
        """The donor cancelled their monthly gifts on the portal: Stripe ends each of them."""
        for session in list(self.sessions.values()):
            if session.get("customer") == customer and session.get("subscription"):
                self.deliver(
                    "customer.subscription.deleted",
                    stripe_object(
                        "subscription",
                        id=session["subscription"],
                        customer=customer,
                        status="canceled",
                        canceled_at=int(time.time()),
                        metadata=session["metadata"],
                        currency="eur",
                    ),
                )

    def _build(self) -> Flask:
        app = Flask("fakestripe")

        @app.before_request
        def authorise() -> Response | None:
            if request.path.startswith(("/pay/", "/portal/")):
                return None
            with self._lock:
                self.requests.append((request.method, request.path, nest(request.form.items())))
            if not request.headers.get("Authorization", "").startswith("Bearer sk_test_"):
                return _error(401, "Invalid API Key provided.")
            return None

        @app.post("/v1/checkout/sessions")
        def create_session() -> Response:
            params = nest(request.form.items(multi=True))
            items = params.get("line_items") or []
            if not items:
                return _error(400, "Missing required param: line_items.")
            total = sum(
                int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items
            )
            session_id = "cs_test_" + secrets.token_hex(12)
            session = {
                "id": session_id,
                "object": "checkout.session",
                "livemode": False,
                "url": f"{self.base_url}/pay/{session_id}",
                "mode": params.get("mode"),
                "submit_type": params.get("submit_type"),
                "metadata": params.get("metadata", {}),
                "amount_total": total,
                "currency": "eur",
                "status": "open",
                "payment_status": "unpaid",
                "success_url": params.get("success_url"),
                "cancel_url": params.get("cancel_url"),
                "created": int(time.time()),
                "payment_method_types": params.get("payment_method_types", ["card"]),
                "line_items": items,
                "locale": params.get("locale"),
                "customer": None,
                "subscription": None,
                "payment_intent": None,
            }
            with self._lock:
                self.sessions[session_id] = session
            return jsonify(session)

        @app.get("/v1/checkout/sessions/<session_id>")
        def get_session(session_id: str) -> Response:
            session = self.sessions.get(session_id)
            return (
                jsonify(session)
                if session
                else _error(404, f"No such checkout.session: '{session_id}'")
            )

        @app.post("/v1/billing_portal/sessions")
        def create_portal_session() -> Response:
            # https://docs.stripe.com/api/customer_portal/sessions/create: `customer` is
            # required, `return_url` and `locale` optional.
            params = nest(request.form.items(multi=True))
            customer = params.get("customer")
            if not customer:
                return _error(400, "Missing required param: customer.")
            known = {s["customer"] for s in self.sessions.values() if s.get("customer")}
            if customer not in known:
                return _error(400, f"No such customer: '{customer}'")
            portal_id = "bps_" + secrets.token_hex(12)
            portal = {
                "id": portal_id,
                "object": "billing_portal.session",
                "configuration": "bpc_fondo",
                "created": int(time.time()),
                "customer": customer,
                "flow": None,
                "livemode": False,
                "locale": params.get("locale"),
                "on_behalf_of": None,
                "return_url": params.get("return_url"),
                "url": f"{self.base_url}/portal/{portal_id}",
            }
            with self._lock:
                self.portal_sessions[portal_id] = portal
            return jsonify(portal)

        @app.get("/portal/<portal_id>")
        def portal_page(portal_id: str) -> str:
            portal = self.portal_sessions.get(portal_id) or abort(404)
            cancel = ""
            if self.webhook_url:
                cancel = (
                    f"<form method=post action='/portal/{portal_id}/cancel'>"
                    "<button>Annulla la donazione mensile</button></form>"
                )
            back = html.escape(portal["return_url"] or "", quote=True)
            return (
                "<!doctype html><title>Fake Stripe customer portal</title>"
                f"<h1>Fake Stripe customer portal</h1><p id='customer'>{portal['customer']}</p>"
                f"{cancel}<p><a href='{back}'>Torna al sito</a></p>"
            )

        @app.post("/portal/<portal_id>/cancel")
        def portal_cancel(portal_id: str) -> Any:
            portal = self.portal_sessions.get(portal_id) or abort(404)
            if not self.webhook_url:
                abort(404)
            try:
                self._cancelled(portal["customer"])
            except (urllib.error.URLError, OSError) as error:
                return f"the webhook was not accepted: {error}", 502
            return redirect(portal["return_url"] or "/", code=303)

        @app.get("/pay/<session_id>")
        def pay(session_id: str) -> str:
            session = self.sessions.get(session_id) or abort(404)
            euros = f"{session['amount_total'] / 100:.2f}".replace(".", ",")
            form = ""
            if self.webhook_url and session["status"] == "open":
                cancel = html.escape(session["cancel_url"] or "/", quote=True)
                form = (
                    f"<form method=post action='/pay/{session_id}'>"
                    "<label>Nome <input name=name value='Mario Rossi'></label> "
                    "<label>E-mail <input name=email value='mario.rossi@example.org'></label> "
                    "<button>Paga</button></form>"
                    f"<p><a href='{cancel}'>Annulla</a></p>"
                )
            return (
                f"<!doctype html><title>Fake Stripe Checkout</title>"
                f"<h1>Fake Stripe Checkout</h1><p id='amount'>€ {euros}</p>"
                f"<p id='mode'>{session['mode']}</p>{form}"
            )

        @app.post("/pay/<session_id>")
        def pay_now(session_id: str) -> Any:
            if session_id not in self.sessions or not self.webhook_url:
                abort(404)
            session = self.complete(session_id)
            try:
                self._paid(
                    session,
                    request.form.get("name") or "Mario Rossi",
                    request.form.get("email") or "mario.rossi@example.org",
                )
            except (urllib.error.URLError, OSError) as error:
                return f"the webhook was not accepted: {error}", 502
            return redirect(
                str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id), code=303
            )

        @app.get("/v1/payment_intents/<intent_id>")
        def get_intent(intent_id: str) -> Response:
            payment = self.payments.get(intent_id)
            if payment is None:
                return _error(404, f"No such payment_intent: '{intent_id}'")
            suffix = intent_id.removeprefix("pi_")
            transaction = {
                "id": f"txn_{suffix}",
                "object": "balance_transaction",
                "amount": payment["amount"],
                "fee": payment["fee"],
                "net": payment["amount"] - payment["fee"],
                "currency": "eur",
                "fee_details": [
                    {"amount": payment["fee"], "currency": "eur", "type": "stripe_fee"}
                ],
                "source": f"ch_{suffix}",
                "type": "charge",
            }
            expand = request.args.getlist("expand[]") or request.args.getlist("expand[0]")
            charge: dict[str, Any] = {
                "id": f"ch_{suffix}",
                "object": "charge",
                "amount": payment["amount"],
                "currency": "eur",
                "payment_intent": intent_id,
                "paid": True,
                "balance_transaction": transaction["id"],
            }
            if "latest_charge.balance_transaction" in expand:
                charge["balance_transaction"] = transaction
            intent = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": payment["amount"],
                "currency": "eur",
                "status": "succeeded",
                "latest_charge": charge
                if any(e.startswith("latest_charge") for e in expand)
                else charge["id"],
            }
            return jsonify(intent)

        @app.errorhandler(404)
        def unknown(_error_: Exception) -> Response:
            return _error(404, f"Unrecognized request URL ({request.method}: {request.path}).")

        return app
