"""Public pages: the campaigns' progress for everyone, and a health check for the servers."""

from typing import Any

from flask import Blueprint, Flask, jsonify, render_template

from projections.reports import progress
from web import store
from web.auth import public_endpoint

bp = Blueprint("public", __name__)


@bp.get("/")
@public_endpoint
def home() -> str:
    return render_template("home.html", campaigns=progress(store().database))


@bp.get("/healthz")
@public_endpoint
def healthz() -> Any:
    return jsonify(status="ok", events=store().app.recorder.max_notification_id() or 0)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
