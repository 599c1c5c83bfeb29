"""Fixtures shared by the web tests: back offices with more or less data, the Stripe app."""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from ledger import user
from ledger.csv_import import import_donations
from projections.store import LedgerStore
from tests.helpers import (
    PASSWORD,
    YEAR1,
    create_database,
    database_url,
    drop_database,
    start_campaigns,
    stripe_ledger,
)
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


def _year1_ledger(url: str) -> None:
    """The demo campaigns, the year-1 donations and three users, caught up, at `url`."""
    with pytest.MonkeyPatch.context() as patch:
        # Hashes made here are checked by every sign-in of the tests that copy this ledger.
        patch.setattr(user, "_HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))
        ledger = LedgerStore.open(url)
        try:
            start_campaigns(ledger)
            import_donations(ledger.app, YEAR1 / "donations.csv")
            for role in ("admin", "staff", "volunteer"):
                ledger.app.add_user(f"{role}@example.org", role, PASSWORD)
            ledger.runner.catch_up()
        finally:
            ledger.close()


@pytest.fixture(scope="session")
def year1_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The year-1 ledger on SQLite, built once per test process; tests work on copies."""
    path = tmp_path_factory.mktemp("year1") / "ledger.sqlite3"
    _year1_ledger(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def year1_postgres(postgres_server: str, postgres_template: str) -> Iterator[str]:
    """The year-1 ledger on PostgreSQL, built once per test process: a template database."""
    name = f"fondo_test_year1_{uuid.uuid4().hex[:12]}"
    create_database(postgres_server, name, template=postgres_template)
    try:
        _year1_ledger(database_url(postgres_server, name))
        yield name
    finally:
        drop_database(postgres_server, name)


@pytest.fixture(params=["sqlite", "postgres"])
def year1_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the year-1 ledger, on each store."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.sqlite3"
        shutil.copyfile(request.getfixturevalue("year1_sqlite"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"fondo_test_{uuid.uuid4().hex[:12]}"
    create_database(server, name, template=request.getfixturevalue("year1_postgres"))
    try:
        yield database_url(server, name)
    finally:
        drop_database(server, name)


@pytest.fixture
def year1_cli(year1_url: str) -> CliRunner:
    """`ledger` in-process on a fresh copy of the year-1 ledger."""
    return CliRunner(env={"LEDGER_DATABASE_URL": year1_url})


@pytest.fixture
def year1_office(year1_url: str) -> Iterator[Flask]:
    """The back office with the year-1 donations imported and an admin, a staff member and a
    volunteer (`admin@example.org`, …), on a copy of a ledger built once."""
    app = _back_office(year1_url)
    yield app
    app.extensions["ledger_store"].close()


@pytest.fixture
def stripe_app(store_url: str) -> Iterator[Flask]:
    """The app with Stripe configured (webhook secret SECRET) and the demo campaigns."""
    app = stripe_ledger(store_url)
    yield app
    app.extensions["ledger_store"].close()


@pytest.fixture
def hook(stripe_app: Flask) -> FlaskClient:
    return stripe_app.test_client()
