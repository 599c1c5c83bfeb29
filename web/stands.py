"""Piazza stands for volunteers: pages and the /api/v1/stands API."""

from flask import Blueprint, Flask

bp = Blueprint("stands", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
