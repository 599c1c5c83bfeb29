"""A fake Stripe API on 127.0.0.1 for the endpoints Fondo calls, through the official SDK."""

import re
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from werkzeug.serving import make_server


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

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._app = self._build()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
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
            return (
                "<!doctype html><title>Fake Stripe customer portal</title>"
                f"<h1>Fake Stripe customer portal</h1><p id='customer'>{portal['customer']}</p>"
            )

        @app.get("/pay/<session_id>")
        def pay(session_id: str) -> str:
            session = self.sessions.get(session_id) or abort(404)
            euros = f"{session['amount_total'] / 100:.2f}".replace(".", ",")
            return (
                f"<!doctype html><title>Fake Stripe Checkout</title>"
                f"<h1>Fake Stripe Checkout</h1><p id='amount'>€ {euros}</p>"
                f"<p id='mode'>{session['mode']}</p>"
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
