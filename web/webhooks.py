"""Stripe webhooks: verified on the raw body, checked, kept in the inbox by Stripe's event id
(applied once, however often they arrive, by the inbox processor).

`POST /webhooks/stripe` is answered by a small WSGI path in front of Flask: a delivery needs
none of what Flask does for a page (session, sign-in, catch-up policy, language), and Stripe's
bursts are the one place where requests per second matter. Refusals and failures are answered
by the app's own error handlers, in the shape and with the headers of every other API error.
"""

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from stripe import SignatureVerificationError, Webhook, WebhookSignature
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    RequestEntityTooLarge,
    ServiceUnavailable,
)
from werkzeug.wsgi import get_input_stream

from ledger.errors import NotFoundError
from projections.store import LedgerStore
from web.inbox import check_delivery
from web.stripe_shapes import MalformedEvent

PATH = "/webhooks/stripe"
# Stripe's events are a few kilobytes, tens at most with many line items: a body past 1 MiB is
# not one of them (the app's MAX_WEBHOOK_BYTES setting changes it).
MAX_BYTES = 1024 * 1024
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class StripeWebhook:
    """The WSGI app in front of Flask's: deliveries to PATH are kept here; every other
    request goes on to `following`."""

    def __init__(self, app: Flask, following: WSGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.following = following
        # Answers made here carry the headers that Flask adds to every other answer.
        self.headers = list(headers.items())
        # Campaigns are never removed: once seen, a slug is known for the process's life, so
        # that the common delivery reads nothing before its one write.
        self.known_campaigns: set[str] = set()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.following(environ, start_response)
        try:
            if environ.get("REQUEST_METHOD") != "POST":
                raise MethodNotAllowed(valid_methods=["POST"])
            answer = self.receive(environ)
        except Exception as error:  # noqa: BLE001 - answered as the app answers any error
            return self.refuse(environ, error)(environ, start_response)
        body = (json.dumps(answer, separators=(",", ":"), sort_keys=True) + "\n").encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *self.headers,
            ],
        )
        return [body]

    def receive(self, environ: dict[str, Any]) -> dict[str, str]:
        """2xx once kept in the inbox (or ignored); 400 for anything not signed by Stripe or
        that the ledger would refuse. Stripe is never called from here: fees are fetched later
        by `ledger stripe sync-fees`."""
        secret = self.app.config.get("STRIPE_WEBHOOK_SECRET")
        if not secret:
            raise ServiceUnavailable("Stripe webhooks are not configured")
        signature = environ.get("HTTP_STRIPE_SIGNATURE")
        if not signature:
            raise BadRequest("missing Stripe-Signature header")
        payload = self.body(environ)
        try:
            WebhookSignature.verify_header(payload, signature, secret, Webhook.DEFAULT_TOLERANCE)
        except SignatureVerificationError:
            raise BadRequest("the signature does not match (wrong secret, or too old)") from None
        except (UnicodeError, TypeError, ValueError):
            # A header or body no signature can be made of (non-ASCII, not UTF-8).
            raise BadRequest("the signature does not match (wrong secret, or too old)") from None
        try:
            # Strict UTF-8 text, as the inbox processor reads it again (no byte-order mark).
            event = json.loads(payload.decode("utf-8"))
        except (ValueError, RecursionError):  # not JSON, or nested past what Python can read
            raise BadRequest("the body is not a JSON event") from None
        try:
            outcome = check_delivery(event, self.campaign_known)
        except MalformedEvent as malformed:
            # Signed but not shaped as Stripe documents (or asking what the ledger refuses):
            # refused whole, with the reason that Stripe's dashboard shows beside the delivery.
            raise BadRequest(f"malformed Stripe event: {malformed}") from None
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            # A shape the declared ones let through: still a 4xx, not a crash Stripe would
            # retry for days. Nothing was kept.
            self.app.logger.error(
                "stripe event %r of an unexpected shape: %r",
                event.get("id") if isinstance(event, dict) else None,
                error,
            )
            raise BadRequest("malformed Stripe event: unexpected shape") from None
        if outcome == "ignored":
            return {"received": event["id"], "outcome": outcome}
        # The one write: the delivery is durable once this returns, and applied by the inbox
        # processor (`ledger inbox --follow`). A resend of a kept event id changes nothing.
        kept = self.store.inbox.receive(event["id"], event["type"], payload.decode())
        return {"received": event["id"], "outcome": "queued" if kept else "duplicate"}

    def body(self, environ: dict[str, Any]) -> bytes:
        """The request's body, refused with 413 past MAX_WEBHOOK_BYTES however it is sent (a
        chunked body has no length to check beforehand: one byte more than allowed is read)."""
        limit = int(self.app.config.get("MAX_WEBHOOK_BYTES") or MAX_BYTES)
        payload: bytes = get_input_stream(environ, max_content_length=limit + 1).read(limit + 1)
        if len(payload) > limit:
            raise RequestEntityTooLarge(f"a Stripe event is at most {limit} bytes")
        return payload

    @property
    def store(self) -> LedgerStore:
        ledger_store: LedgerStore = self.app.extensions["ledger_store"]
        return ledger_store

    def campaign_known(self, slug: str) -> bool:
        if slug in self.known_campaigns:
            return True
        try:
            self.store.app.get_campaign(slug)
        except NotFoundError:
            return False
        self.known_campaigns.add(slug)
        return True

    def refuse(self, environ: dict[str, Any], error: Exception) -> WSGIApp:
        """The app's answer to `error`, made by its error handlers and finished by its
        after-request hooks (headers, language), as for an error in any view."""
        with self.app.request_context(environ):
            response = self.app.make_response(self.app.handle_user_exception(error))
            if isinstance(error, HTTPException):
                # Headers the exception carries (Allow on a 405), which the handlers'
                # JSON body does not.
                for name, value in error.get_headers():
                    if name != "Content-Type":
                        response.headers.setdefault(name, value)
            return self.app.process_response(response)  # type: ignore[no-any-return]
