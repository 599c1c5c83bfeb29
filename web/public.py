"""Public pages: the campaigns' progress for everyone, and a health check for the servers."""

from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, Flask, abort, current_app, g, jsonify, render_template
from flask_babel import gettext as _

from ledger.errors import NotFoundError
from projections.freshness import freshness
from projections.reports import latest_gifts, progress
from web import store
from web.auth import public_endpoint
from web.i18n import eur

bp = Blueprint("public", __name__)


@bp.get("/")
@public_endpoint
def home() -> str:
    return render_template("home.html", campaigns=progress(store().database))


def _campaign_figures(slug: str) -> dict[str, Any]:
    try:
        [figures] = progress(store().database, slug)
    except NotFoundError:
        abort(404)
    return figures


@bp.get("/campagne/<slug>")
@public_endpoint
def campaign(slug: str) -> str:
    """A campaign's progress and its latest gifts, with no personal data."""
    figures = _campaign_figures(slug)
    return render_template(
        "campaign.html",
        c=figures,
        latest=[gift_line(gift) for gift in latest_gifts(store().database, slug)],
    )


def gift_line(gift: Any) -> tuple[str, str]:
    """«Un donatore da Crema ha donato € 25,00», and its date."""
    amount = eur(gift.amount_cents)
    if gift.people > 1 and gift.place:
        text = _("%d donors from %s gave %s") % (
            gift.people,
            gift.place,
            amount,
        )
    elif gift.people > 1:
        text = _("%d donors gave %s") % (gift.people, amount)
    elif gift.place:
        text = _("A donor from %s gave %s") % (
            gift.place,
            amount,
        )
    else:
        text = _("A donor gave %s") % amount
    return text, gift.value_date


@bp.get("/embed/campaigns/<slug>")
@public_endpoint
def embed(slug: str) -> str:
    """The progress widget the foundation's sites show in an iframe: only the origins in
    LEDGER_EMBED_ORIGINS may frame it (every other page may be framed by none)."""
    figures = _campaign_figures(slug)
    g.frame_ancestors = " ".join(current_app.config["LEDGER_EMBED_ORIGINS"]) or "'none'"
    return render_template("embed.html", c=figures)


@bp.get("/privacy")
@public_endpoint
def privacy() -> str:
    return render_template("privacy.html")


def embed_origins(setting: str) -> tuple[str, ...]:
    """LEDGER_EMBED_ORIGINS: origins separated by spaces or commas, each `https://host` (or
    `http://` for a local test), no path, no wildcard; ValueError naming the culprit."""
    origins = []
    for item in setting.replace(",", " ").split():
        parsed = urlparse(item)
        if (
            parsed.scheme not in ("https", "http")
            or not parsed.hostname
            or "*" in item
            or parsed.username
            or parsed.path not in ("", "/")
            or parsed.query
            or parsed.fragment
            or any(c in item for c in "'; ")
        ):
            raise ValueError(
                f"LEDGER_EMBED_ORIGINS: {item!r} is not an origin such as https://www.example.org"
            )
        origins.append(f"{parsed.scheme}://{parsed.netloc}")
    return tuple(dict.fromkeys(origins))


@bp.get("/healthz")
@public_endpoint
def healthz() -> Any:
    """200 while every read model can follow the events; 503 naming each one that stopped at
    an event it cannot apply (its position and the reason). Either way `read_models` says
    how many events each one is behind and for how long: a lag is not a fault of this
    worker (they all share the read models), so it never takes it out of rotation.

    `inbox` says how many Stripe deliveries wait to be applied (and for how long the oldest
    has), and names those that failed (Stripe's event id and type; the reason, which may
    quote what the delivery held, only in the back office and `ledger inbox`). A failed
    delivery never makes this a 503 either: taking workers out of rotation would only stop
    the next deliveries."""
    events = store().app.recorder.max_notification_id() or 0
    stalls = store().runner.stalls()
    lag = [entry.to_dict() for entry in freshness(store().app, store().database)]
    inbox = store().inbox.state().to_dict() | {
        "failures": [
            {"event_id": failure.event_id, "event_type": failure.event_type}
            for failure in store().inbox.failures()
        ]
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
        _(
            "Stripe payments not recorded: {failed} deliveries cannot be applied "
            "(the first: {event} {kind}, {reason}). Once the cause is fixed, put "
            "them back in line with: ledger inbox --retry-failed (README, “Stripe "
            "deliveries”)."
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
    configured = app.config.get("LEDGER_EMBED_ORIGINS") or ""
    if isinstance(configured, str):
        app.config["LEDGER_EMBED_ORIGINS"] = embed_origins(configured)
    else:
        app.config["LEDGER_EMBED_ORIGINS"] = embed_origins(" ".join(configured))
    app.register_blueprint(bp)
    app.jinja_env.globals["stall_notices"] = stall_notices
