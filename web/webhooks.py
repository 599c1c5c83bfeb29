"""Stripe webhooks: verified on the raw body, applied once however often they arrive."""

import json
from typing import Any

import stripe
from flask import Blueprint, Flask, abort, current_app, jsonify, request

from ledger.errors import ChangedMeanwhileError
from web import store
from web.auth import csrf, public_endpoint
from web.donate import default_campaign
from web.stripe_gateway import StripeEvents
from web.stripe_shapes import MalformedEvent

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
@public_endpoint
def stripe_webhook() -> Any:
    """2xx once recorded (or ignored); 400 for anything not signed by Stripe. Stripe is never
    called from here: fees are fetched later by `ledger stripe sync-fees`."""
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
        outcome = StripeEvents(store().app, default_campaign).handle(event)
    except ChangedMeanwhileError:
        # Other deliveries of the same payment kept winning the race. Each notice applies once
        # by its Stripe id, so the resend Stripe makes on a 5xx finishes what this one began.
        return jsonify(received=event["id"], outcome="retry"), 503, {"Retry-After": "1"}
    except MalformedEvent as malformed:
        # Signed but not shaped as Stripe documents: refused whole, with the reason that
        # Stripe's dashboard shows beside the delivery.
        abort(400, description=f"malformed Stripe event: {malformed}")
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        # A shape the declared ones let through: still a 4xx, not a crash Stripe would retry
        # for days. Each handler reads its fields before its one command: nothing recorded.
        current_app.logger.error(
            "stripe event %r of an unexpected shape: %r",
            event.get("id") if isinstance(event, dict) else None,
            error,
        )
        abort(400, description="malformed Stripe event: unexpected shape")
    return jsonify(received=event["id"], outcome=outcome)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
