"""Fixtures shared by the web tests: back offices with more or less data, the Stripe app."""

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.csv_import import import_donations
from tests.helpers import PASSWORD, SECRET, YEAR1, start_campaigns
from web import create_app, store


def _back_office(store_url: str) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": store_url,
            "WTF_CSRF_ENABLED": False,
        }
    )


@pytest.fixture
def office(store_url: str) -> Iterator[Flask]:
    """The back office with the demo campaigns and one staff member."""
    app = _back_office(store_url)
    with app.app_context():
        start_campaigns(store())
        store().app.add_user("staff@example.org", "staff", PASSWORD)
    yield app
    app.extensions["ledger_store"].close()


@pytest.fixture
def year1_office(store_url: str) -> Iterator[Flask]:
    """The back office with the year-1 donations imported and an admin, a staff member and a
    volunteer (`admin@example.org`, …)."""
    app = _back_office(store_url)
    with app.app_context():
        start_campaigns(store())
        import_donations(store().app, YEAR1 / "donations.csv")
        for role in ("admin", "staff", "volunteer"):
            store().app.add_user(f"{role}@example.org", role, PASSWORD)
    yield app
    app.extensions["ledger_store"].close()


@pytest.fixture
def stripe_app(store_url: str) -> Iterator[Flask]:
    """The app with Stripe configured (webhook secret SECRET) and the demo campaigns."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": store_url,
            "STRIPE_SECRET_KEY": "sk_test_fondo",
            "STRIPE_WEBHOOK_SECRET": SECRET,
        }
    )
    with app.app_context():
        start_campaigns(store())
    yield app
    app.extensions["ledger_store"].close()


@pytest.fixture
def hook(stripe_app: Flask) -> FlaskClient:
    return stripe_app.test_client()
