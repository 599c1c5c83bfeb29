"""Public pages: the campaigns' progress for everyone, and a health check for the servers."""

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template
from flask_babel import gettext as _

from projections.freshness import freshness
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
    """200 while every read model can follow the events; 503 naming each one that stopped at
    an event it cannot apply (its position and the reason). Either way `read_models` says
    how many events each one is behind and for how long: a lag is not a fault of this
    worker (they all share the read models), so it never takes it out of rotation."""
    events = store().app.recorder.max_notification_id() or 0
    stalls = store().runner.stalls()
    lag = [entry.to_dict() for entry in freshness(store().app, store().database)]
    if stalls:
        return jsonify(
            status="stalled",
            events=events,
            read_models=lag,
            stalled=[stall.to_dict() for stall in stalls],
        ), 503
    return jsonify(status="ok", events=events, read_models=lag)


def stall_notices() -> list[str]:
    """The back office's banner: one line per read model stopped at an event, and one when
    an event has waited LEDGER_LAG_NOTICE_SECONDS or more (no follower, or too slow)."""
    return [*_stalled_notices(), *_lag_notices()]


def _lag_notices() -> list[str]:
    limit = float(current_app.config["LEDGER_LAG_NOTICE_SECONDS"])
    late = [
        entry
        for entry in freshness(store().app, store().database)
        if entry.behind and entry.waiting_seconds >= limit
    ]
    if not late:
        return []
    behind = max(entry.behind for entry in late)
    waiting = int(max(entry.waiting_seconds for entry in late))
    names = ", ".join(entry.name for entry in late)
    return [
        _(
            "Figures not up to date: %(behind)s events waiting for %(waiting)s s (%(names)s). "
            "Pages show the figures up to the last event applied. Check that `ledger project "
            "--follow` is running (README, “Keeping the read models caught up”).",
            behind=behind,
            waiting=waiting,
            names=names,
        )
    ]


def _stalled_notices() -> list[str]:
    return [
        _(
            "Figures not up to date: read model “%(name)s” stopped at event %(position)s "
            "(%(reason)s). Pages show the figures up to the event before. If the event was "
            "accepted by mistake, an admin sets it aside with: ledger events set-aside "
            "%(position)s --reason TEXT (README, “When a read model stalls”).",
            name=stall.name,
            position=stall.position,
            reason=stall.reason,
        )
        for stall in store().runner.stalls()
    ]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["stall_notices"] = stall_notices
