"""Stripe webhooks: verified on the raw body, checked, kept in the inbox by Stripe's event id
(applied once, however often they arrive, by the inbox processor)."""

import json
from typing import Any

import stripe
from flask import Blueprint, Flask, abort, current_app, jsonify, request

from ledger.errors import NotFoundError
from web import store
from web.auth import csrf, public_endpoint
from web.inbox import check_delivery
from web.stripe_shapes import MalformedEvent

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
@public_endpoint
def stripe_webhook() -> Any:
    """2xx once kept in the inbox (or ignored); 400 for anything not signed by Stripe or that
    the ledger would refuse. Stripe is never called from here: fees are fetched later by
    `ledger stripe sync-fees`."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        abort(503, description="Stripe webhooks are not configured")
    payload = request.get_data()
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        abort(400, description="missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError:
        abort(400, description="the signature does not match (wrong secret, or too old)")
    except UnicodeDecodeError:
        abort(400, description="the body is not UTF-8 JSON")
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, or nested past what Python can read
        abort(400, description="the body is not a JSON event")
    try:
        outcome = check_delivery(event, _campaign_known)
    except MalformedEvent as malformed:
        # Signed but not shaped as Stripe documents (or asking what the ledger refuses): refused
        # whole, with the reason that Stripe's dashboard shows beside the delivery.
        abort(400, description=f"malformed Stripe event: {malformed}")
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        # A shape the declared ones let through: still a 4xx, not a crash Stripe would retry
        # for days. Nothing was kept.
        current_app.logger.error(
            "stripe event %r of an unexpected shape: %r",
            event.get("id") if isinstance(event, dict) else None,
            error,
        )
        abort(400, description="malformed Stripe event: unexpected shape")
    if outcome == "ignored":
        return jsonify(received=event["id"], outcome=outcome)
    # The one write: the delivery is durable once this returns, and applied by the inbox
    # processor (`ledger inbox --follow`). A resend of a kept event id changes nothing.
    kept = store().inbox.receive(event["id"], event["type"], payload.decode())
    return jsonify(received=event["id"], outcome="queued" if kept else "duplicate")


def _campaign_known(slug: str) -> bool:
    """Whether a campaign exists, remembered per process once seen (campaigns are never
    removed), so the common delivery reads nothing before its one write."""
    known: set[str] = current_app.extensions.setdefault("known_campaigns", set())
    if slug in known:
        return True
    try:
        store().app.get_campaign(slug)
    except NotFoundError:
        return False
    known.add(slug)
    return True


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
