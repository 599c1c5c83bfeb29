"""Stripe webhooks: verified on the raw body, applied once however often they arrive."""

import json
from typing import Any

import stripe
from flask import Blueprint, Flask, abort, current_app, jsonify, request

from web import store
from web.auth import csrf, public_endpoint
from web.donate import default_campaign
from web.stripe_gateway import StripeEvents

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
        # The signature alone: construct_event also parses, and fails on a signed non-object.
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret,
                                              stripe.Webhook.DEFAULT_TOLERANCE)
        event = json.loads(payload)
    except ValueError:
        abort(400, description="the body is not a JSON event")
    except stripe.SignatureVerificationError:
        abort(400, description="the signature does not match (wrong secret, or too old)")
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        abort(400, description="the body is not a Stripe event")
    try:
        outcome = StripeEvents(store().app, default_campaign).handle(event)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        # Signed, yet not shaped as Stripe's objects are: a 4xx, not a crash. Each handler
        # reads the fields it needs before its one command, so nothing was recorded.
        current_app.logger.warning("stripe event %r of an unexpected shape: %r",
                                   event.get("id"), error)
        abort(422, description="the event does not have the shape of a Stripe event")
    return jsonify(received=event.get("id"), outcome=outcome)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
