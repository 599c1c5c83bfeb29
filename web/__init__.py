"""Fondo's web side: the Flask app factory, its blueprints and the `ledger` CLI."""

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import Flask, current_app, g, request, session

from projections.freshness import applied_up_to
from projections.store import LedgerStore

# A page after a person's own change waits this long, at most, for the follower to apply it.
OWN_WRITES_WAIT_SECONDS = 3.0
# Pages and files with personal data: the back office, its exports and receipts, the
# reconciliation, the token a stand page renews its forms with.
PRIVATE_PATHS = ("/admin", "/stands/reconciliation", "/stands/csrf-token")


def _secret_key(instance_path: str) -> str:
    """LEDGER_SECRET_KEY, or one generated into instance/ on first run and kept there.

    Several workers start at once: each writes a candidate to its own temporary file and
    links it into place, which fails when the file exists, so the first writer wins and every
    process reads the same secret (never a half-written file)."""
    configured = os.environ.get("LEDGER_SECRET_KEY")
    if configured:
        return configured
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor, candidate = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(candidate, path)
        finally:
            os.unlink(candidate)
    return path.read_text().strip()


def instance_path() -> str:
    """The instance folder of this package, as Flask finds it: create_app keeps its store and
    secret there, and the `ledger` CLI finds the same store from any working directory."""
    return Flask(__name__, instance_relative_config=True).instance_path


def default_database_url(instance: str) -> str:
    return f"sqlite:///{Path(instance) / 'ledger.sqlite3'}"


def _origin(url: str | None) -> str:
    if not url:
        return ""
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment (tests pass `config` explicitly)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(
        LEDGER_DATABASE_URL=os.environ.get("LEDGER_DATABASE_URL")
        or default_database_url(app.instance_path),
        STRIPE_SECRET_KEY=os.environ.get("STRIPE_SECRET_KEY"),
        STRIPE_WEBHOOK_SECRET=os.environ.get("STRIPE_WEBHOOK_SECRET"),
        STRIPE_API_BASE=os.environ.get("STRIPE_API_BASE"),
        LEDGER_DEFAULT_CAMPAIGN=os.environ.get("LEDGER_DEFAULT_CAMPAIGN"),
        # The sites that may show /embed/campaigns/<slug> in an iframe (README).
        LEDGER_EMBED_ORIGINS=os.environ.get("LEDGER_EMBED_ORIGINS", ""),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind HTTPS (LEDGER_HTTPS=1) cookies never travel in clear.
        SESSION_COOKIE_SECURE=os.environ.get("LEDGER_HTTPS") == "1",
        REMEMBER_COOKIE_SECURE=os.environ.get("LEDGER_HTTPS") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        API_TITLE="Fondo",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        # Pages read what `ledger project --follow` applied (README, "Keeping the read models
        # caught up"); the back office says so when an event waits longer than this.
        LEDGER_LAG_NOTICE_SECONDS=float(os.environ.get("LEDGER_LAG_NOTICE_SECONDS") or 30),
    )
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    url = app.config["LEDGER_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    app.extensions["ledger_store"] = LedgerStore.open(url)

    from web import admin, api, auth, donate, errors, i18n, public, receipts, stands, webhooks

    i18n.init_app(app)
    auth.init_app(app)
    api.init_app(app)
    # After flask-smorest's own handlers, so that every error has one shape.
    errors.register_error_handlers(app)
    for area in (public, donate, stands, admin, receipts):
        area.init_app(app)

    # Chromium applies form-action to the redirect after a form too: allow the checkout host,
    # and the customer portal's, where the thank-you page sends a monthly donor.
    checkout_hosts = " ".join(
        filter(
            None,
            [
                "https://checkout.stripe.com",
                "https://billing.stripe.com",
                _origin(app.config.get("STRIPE_API_BASE")),
            ],
        )
    )
    policy = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"form-action 'self' {checkout_hosts}; frame-ancestors "
    )

    @app.before_request
    def see_own_writes() -> None:
        """The catch-up policy's one exception to "read what the follower applied": the page a
        signed-in person opens after their own change (the redirect after a form, the audit
        after an export) waits, reading only, until the follower has applied that change.
        Never applies events itself."""
        if "_user_id" not in session:
            return
        written = session.pop("written_up_to", None)
        if written:
            applied_up_to(store().database, int(written), OWN_WRITES_WAIT_SECONDS)
        g.events_before = store().app.recorder.max_notification_id() or 0

    @app.after_request
    def remember_own_writes(response: Any) -> Any:
        if "events_before" in g and response.status_code < 400:
            head = store().app.recorder.max_notification_id() or 0
            if head > g.events_before:
                session["written_up_to"] = head
        return response

    # What every answer carries, the webhook's (which Flask never sees) included; a page that
    # names the sites that may frame it changes the first two.
    answer_headers = {
        "Content-Security-Policy": policy + "'none'",
        # For browsers that predate frame-ancestors (which cannot name several sites).
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if app.config.get("LEDGER_HTTPS"):
        answer_headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    @app.after_request
    def security_headers(response: Any) -> Any:
        # No page may be framed, but the embeddable widget by the sites it names.
        ancestors = g.get("frame_ancestors", "'none'")
        if ancestors != "'none'":
            response.headers.setdefault("Content-Security-Policy", policy + ancestors)
        for name, value in answer_headers.items():
            if name != "X-Frame-Options" or ancestors == "'none'":
                response.headers.setdefault(name, value)
        if request.path.startswith(PRIVATE_PATHS):
            # Donors' data and exports: never kept by a browser's or a proxy's cache.
            response.headers["Cache-Control"] = "no-store"
        if response.status_code == 405 and "Allow" not in response.headers:
            # The error page replaced werkzeug's answer, and the methods it listed with it.
            methods = app.url_map.bind_to_environ(request.environ).allowed_methods()
            response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    # Outermost: a Stripe delivery is kept before anything of Flask's runs (web/webhooks.py).
    app.wsgi_app = webhooks.StripeWebhook(  # type: ignore[method-assign]
        app, app.wsgi_app, answer_headers
    )
    return app


def store() -> LedgerStore:
    """The process's ledger (one LedgerApplication per process)."""
    ledger_store: LedgerStore = current_app.extensions["ledger_store"]
    return ledger_store
