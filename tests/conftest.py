"""Fixtures shared by every test: a fresh store on SQLite and on PostgreSQL, the app, the CLI."""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher, profiles
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from werkzeug.test import TestResponse

from ledger import user
from ledger.application import LedgerApplication
from ledger.privacy import MemoryKeyVault
from projections.store import LedgerStore
from tests.helpers import create_database, database_url, drop_database

# No Hypothesis deadline: how long an example takes depends on the machine and its load (the
# first example of a run loads locale data, a busy CI runner stalls), and the tests assert no
# timings; speed is measured by ./scripts/bench.
settings.register_profile("fondo", deadline=None)
settings.load_profile("fondo")

POSTGRES_ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "production_password_cost: hashes passwords at the production argon2 cost",
    )


# The fixtures that give a test the PostgreSQL server, directly or as the `postgres` run of a
# test parametrized over both stores.
POSTGRES_FIXTURES = {"postgres_server", "postgres_template", "postgres_url", "year1_postgres"}
STORE_PARAMETERS = ("store_url", "year1_url")


def _on_postgres(item: pytest.Item) -> bool:
    if item.get_closest_marker("postgres") is not None:
        return True
    if POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and any(
        callspec.params.get(name) == "postgres" for name in STORE_PARAMETERS
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Two tiers, chosen by marker. The fast one (`-m "not slow"`) runs every test on SQLite
    and in memory; the full run adds each test's PostgreSQL run and the long tests.

    - A test on PostgreSQL (the `[postgres]` run of a test on both stores, or one that asks
      for the server or is marked `postgres`) is marked `postgres` and `slow` here: it runs in
      the full suite only, spread over the xdist workers like any other.
    - A test marked `slow` in its module (large imports, gunicorn, Chromium, racing processes
      of its own) also runs in the full suite only; under pytest-xdist (`-n`, with `--dist
      loadgroup` as ./scripts/test runs it) these run one after another on one worker, as in
      a single process, while the rest spread over the other workers."""
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group("slow"))
        if _on_postgres(item):
            item.add_marker(pytest.mark.postgres)
            item.add_marker(pytest.mark.slow)


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return str(error)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL; skips PostgreSQL tests locally when there is no server, fails in CI."""
    problem = _postgres_reachable()
    if problem:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {problem}"
        if os.environ.get("FONDO_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """A database holding the ledger's tables and nothing else, as `ledger init` leaves a new
    one, built once per test process: each test's database is a copy of it (CREATE DATABASE
    … TEMPLATE copies files, far cheaper than creating fifty tables and indexes again)."""
    name = f"fondo_test_template_{uuid.uuid4().hex[:12]}"
    create_database(postgres_server, name)
    try:
        LedgerStore.open(database_url(postgres_server, name)).close()
        yield name
    finally:
        drop_database(postgres_server, name)


@pytest.fixture
def postgres_url(postgres_server: str, postgres_template: str) -> Iterator[str]:
    """A fresh, uniquely named database with the ledger's tables, dropped afterwards."""
    name = f"fondo_test_{uuid.uuid4().hex[:12]}"
    create_database(postgres_server, name, template=postgres_template)
    try:
        yield database_url(postgres_server, name)
    finally:
        drop_database(postgres_server, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the ledger's tables and nothing else, built once per test process:
    each test's database is a copy of it, as on PostgreSQL (`postgres_template`)."""
    path = tmp_path_factory.mktemp("template") / "ledger.sqlite3"
    LedgerStore.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite database with the ledger's tables, in the test's own folder."""
    path = tmp_path / "ledger.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Every storage-dependent test runs on both stores (on PostgreSQL in the full run only:
    see pytest_collection_modifyitems)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[LedgerStore]:
    ledger_store = LedgerStore.open(store_url)
    yield ledger_store
    ledger_store.close()


@pytest.fixture
def memory_app() -> LedgerApplication:
    """The ledger's commands on eventsourcing's in-memory (POPO) event store and a key vault in
    memory: the domain tests of the rules the application services apply, with no database."""
    return LedgerApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=MemoryKeyVault()
    )


class FollowedClient(FlaskClient):
    """A test client standing in for `ledger inbox --follow` and `ledger project --follow`:
    the webhook inbox is applied and the read models catch up before and after each request,
    never inside one, as processes that keep up would have them when a person clicks. Pages
    under test read exactly what they read in production."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        self._follow()
        response = super().open(*args, **kwargs)
        self._follow()
        return response

    def _follow(self) -> None:
        from web.inbox import InboxProcessor

        ledger = self.application.extensions["ledger_store"]
        InboxProcessor(ledger, self.application.config.get("LEDGER_DEFAULT_CAMPAIGN")).drain()
        ledger.runner.catch_up()


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at the production cost spends about half a CPU-second per hash and per check,
    and the tests add users and sign in hundreds of times: in this process they hash with
    argon2's own profile for tests (same algorithm, same code paths, parameters read from each
    hash as always). Processes the tests start (the CLI, gunicorn) keep the production cost,
    and a test marked `production_password_cost` keeps it too."""
    if request.node.get_closest_marker("production_password_cost") is None:
        monkeypatch.setattr(user, "_HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(autouse=True)
def followed_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app's test client follows the events (see FollowedClient); a test that wants
    the read models left behind builds a plain `FlaskClient(app)` itself."""
    monkeypatch.setattr(Flask, "test_client_class", FollowedClient)


@pytest.fixture
def app(store_url: str, tmp_path: Path) -> Iterator[Flask]:
    from web import create_app

    flask_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "LEDGER_DATABASE_URL": store_url,
            "STRIPE_SECRET_KEY": None,
            "STRIPE_WEBHOOK_SECRET": None,
        }
    )
    yield flask_app
    flask_app.extensions["ledger_store"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def cli(store_url: str) -> CliRunner:
    """Runs `ledger` in-process with LEDGER_DATABASE_URL pointing at the test store, created
    by `ledger init` as every new ledger is."""
    from web.cli import main

    runner = CliRunner(env={"LEDGER_DATABASE_URL": store_url})
    assert runner.invoke(main, ["init"]).exit_code == 0
    return runner
