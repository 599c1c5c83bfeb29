"""Online donations: the form, Stripe Checkout, success and cancel pages."""

from flask import Blueprint, Flask

bp = Blueprint("donate", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
