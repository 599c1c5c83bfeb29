"""Stripe-Signature headers, built as Stripe builds them (HMAC-SHA256 of `timestamp.payload`)."""

import hashlib
import hmac
import time


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    moment = int(time.time()) if timestamp is None else timestamp
    signed = f"{moment}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"
