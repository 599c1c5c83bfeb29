"""Public pages: the campaigns' progress for everyone, and a health check for the servers."""

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template

from projections.freshness import freshness
from projections.reports import progress
from web import store
from web.auth import public_endpoint
from web.i18n import tr

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
    worker (they all share the read models), so it never takes it out of rotation.

    `inbox` says how many Stripe deliveries wait to be applied (and for how long the oldest
    has), and lists those that failed with the reason. A failed delivery never makes this a
    503 either: taking workers out of rotation would only stop the next deliveries."""
    events = store().app.recorder.max_notification_id() or 0
    stalls = store().runner.stalls()
    lag = [entry.to_dict() for entry in freshness(store().app, store().database)]
    inbox = store().inbox.state().to_dict() | {
        "failures": [failure.to_dict() for failure in store().inbox.failures()]
    }
    if stalls:
        return jsonify(
            status="stalled",
            events=events,
            read_models=lag,
            inbox=inbox,
            stalled=[stall.to_dict() for stall in stalls],
        ), 503
    return jsonify(status="ok", events=events, read_models=lag, inbox=inbox)


def stall_notices() -> list[str]:
    """The back office's banner: one line per read model stopped at an event, and one when
    an event has waited LEDGER_LAG_NOTICE_SECONDS or more (no follower, or too slow)."""
    return [*_stalled_notices(), *_lag_notices(), *_inbox_notices()]


def _inbox_notices() -> list[str]:
    """One line when Stripe deliveries failed to apply: each waits, with its reason, for a
    person to fix the cause and put it back in line (`ledger inbox --retry-failed`)."""
    failures = store().inbox.failures(limit=3)
    if not failures:
        return []
    failed = store().inbox.state().failed
    first = failures[0]
    return [
        tr(
            "Pagamenti Stripe non registrati: {failed} notifiche non applicabili (la prima: "
            "{event} {kind}, {reason}). Corretta la causa, rimetterle in coda con: ledger inbox "
            "--retry-failed (README, «Stripe deliveries»).",
            "Stripe payments not recorded: {failed} deliveries cannot be applied (the first: "
            "{event} {kind}, {reason}). Once the cause is fixed, put them back in line with: "
            "ledger inbox --retry-failed (README, “Stripe deliveries”).",
        ).format(failed=failed, event=first.event_id, kind=first.event_type, reason=first.reason)
    ]


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
        tr(
            f"Cifre non aggiornate: {behind} eventi in attesa da {waiting} s ({names}). Le pagine "
            f"mostrano i dati fino all'ultimo evento applicato. Controllare che `ledger project "
            f"--follow` sia in esecuzione (README, «Keeping the read models caught up»).",
            f"Figures not up to date: {behind} events waiting for {waiting} s ({names}). Pages "
            f"show the figures up to the last event applied. Check that `ledger project "
            f"--follow` is running (README, “Keeping the read models caught up”).",
        )
    ]


def _stalled_notices() -> list[str]:
    return [
        tr(
            f"Cifre non aggiornate: il modello di lettura «{stall.name}» è fermo all'evento "
            f"{stall.position} ({stall.reason}). Le pagine mostrano i dati fino all'evento "
            f"precedente. Se l'evento è stato accettato per errore, un amministratore lo mette da "
            f"parte con: ledger events set-aside {stall.position} --reason MOTIVO (README, "
            f"«When a read model stalls»).",
            f"Figures not up to date: read model “{stall.name}” stopped at event "
            f"{stall.position} ({stall.reason}). Pages show the figures up to the event before. "
            f"If the event was accepted by mistake, an admin sets it aside with: ledger events "
            f"set-aside {stall.position} --reason TEXT (README, “When a read model stalls”).",
        )
        for stall in store().runner.stalls()
    ]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["stall_notices"] = stall_notices
