"""Fixtures shared by the web tests."""

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.ledger.test_csv_import import start_campaigns
from web import create_app, store


@pytest.fixture
def office(store_url: str) -> Iterator[Flask]:
    """The back office with the demo campaigns and one staff member (modules that need more
    data define their own `office`)."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": store_url,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        start_campaigns(store())
        store().app.add_user("staff@example.org", "staff", "una-password-lunga")
    yield app
    app.extensions["ledger_store"].close()
