"""Stripe webhooks: verified, idempotent, fast."""

from flask import Blueprint, Flask

bp = Blueprint("webhooks", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
