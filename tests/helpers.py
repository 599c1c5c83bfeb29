"""Helpers shared by test modules: demo campaigns, CSV rows, gifts, stands, Stripe deliveries.

Fixtures live in the conftest.py files; plain functions and constants live here, so no test
module imports another."""

import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.donation import Donation
from ledger.gift import Gift, NamedGift
from ledger.identity import DonorDetails
from projections import registry
from projections.reports import progress
from projections.store import LedgerStore
from tests.fakestripe import StripeStory, sign

ROOT = Path(__file__).resolve().parent.parent
YEAR1 = ROOT / "web" / "demo" / "year1"
YEAR1_CSV = str(YEAR1 / "donations.csv")
EXPECTED = json.loads((YEAR1 / "expected.json").read_text())
SLUG = "fare-legami-anni-2-3"
PASSWORD = "una-password-lunga"

# Test databases


def database_url(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url`."""
    return urlunparse(urlparse(admin_url)._replace(path=f"/{name}"))


def create_database(admin_url: str, name: str, template: str | None = None) -> None:
    """CREATE DATABASE, as a copy of `template` when given (a file copy: far cheaper than
    building its tables again)."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Campaigns and the ledger


def start_campaigns(store: LedgerStore) -> None:
    """The two demo campaigns of Fare Legami, as `ledger init --demo` starts them."""
    from web.cli import DEMO_CAMPAIGNS

    for slug, name, target, starts, ends in DEMO_CAMPAIGNS:
        store.app.start_campaign(slug, name, target, starts, ends)


def add_campaigns(cli: CliRunner) -> None:
    """The same two campaigns, added through `ledger campaigns add`."""
    from web.cli import main

    for args in (
        [
            "fare-legami-anno-1",
            "--name",
            "Fare Legami — anno 1",
            "--target",
            "0",
            "--starts",
            "01/07/2015",
            "--ends",
            "31/05/2016",
        ],
        [
            SLUG,
            "--name",
            "Fare Legami — anni 2 e 3",
            "--target",
            "336.000,00",
            "--starts",
            "2016-07-01",
            "--ends",
            "2018-06-30",
        ],
    ):
        result = cli.invoke(main, ["campaigns", "add", *args])
        assert result.exit_code == 0, result.output


def figures(store: LedgerStore, slug: str = SLUG) -> dict:
    """A campaign's progress once the read models caught up."""
    store.runner.catch_up()
    return progress(store.database, slug, date(2030, 1, 1))[0]


def gift(key: str, amount: int = 1000, **extra: object) -> Gift:
    """An online card gift to the running campaign of the demo, keyed by `key`."""
    values: dict[str, object] = dict(
        source_key=key,
        campaign=SLUG,
        amount_cents=amount,
        value_date=date(2016, 9, 1),
        channel="online",
        method="card",
    )
    values.update(extra)
    return Gift(**values)  # type: ignore[arg-type]


def stripe_ledger(url: str, campaigns: bool = True) -> Flask:
    """The app on `url` with Stripe configured (webhook secret SECRET) and, unless told
    otherwise, the demo campaigns; the caller closes `app.extensions["ledger_store"]`."""
    from web import create_app, store

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": url,
            "STRIPE_SECRET_KEY": "sk_test_fondo",
            "STRIPE_WEBHOOK_SECRET": SECRET,
        }
    )
    if campaigns:
        with app.app_context():
            start_campaigns(store())
    return app


def named_gift(key: str, amount: int = 5000, **extra: object) -> Gift:
    """`gift` from a donor who gave a name and an e-mail, and the privacy consent."""
    details = DonorDetails.parse(first_name="Maria", email=f"{key}@example.org")
    return gift(key, amount, **{"details": details, "privacy_consent": True, **extra})


def bare_donation(amount: int = 5000, status: str = "confirmed") -> Donation:
    """A Donation aggregate built directly, as the store would load it: an online card gift
    of nobody known, for the rules of its money."""
    return Donation(
        source_key="stripe:pi_1",
        campaign=SLUG,
        amount_cents=amount,
        donors=1,
        identified=False,
        channel="online",
        method="card",
        value_date=date(2016, 9, 1),
        district="",
        stand="",
        status=status,
        sealed_donor=None,
    )


def ledger(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`ledger ARGS` in a process of its own, on the store at `url`."""
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LEDGER_DATABASE_URL": url},
        check=False,
    )


def save_unprojectable_gift(store: LedgerStore) -> int:
    """A gift of 2**63 cents saved straight through the event store, as the ledger accepted
    before amounts were bounded: no BIGINT column holds it. Returns its position."""
    store.app.save(
        Donation(
            source_key="legacy:overflow",
            campaign=SLUG,
            amount_cents=2**63,
            donors=1,
            identified=False,
            channel="bank",
            method="bank_transfer",
            value_date=date(2016, 9, 10),
            district="",
            stand="",
            status="confirmed",
            sealed_donor=None,
        )
    )
    return store.app.recorder.max_notification_id()


# CSV files

HEADER = (
    "date;campaign;channel;method;amount;donors;first_name;last_name;organization;email;"
    "phone;address;postcode;city;province;tax_code;privacy_consent;marketing_consent;"
    "stand;district;reference"
)


def write_csv(tmp_path: Path, *rows: str, name: str = "gifts.csv") -> Path:
    path = tmp_path / name
    path.write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")
    return path


def row(**values: str) -> str:
    """One CSV line: a € 10,00 bank transfer to the running campaign, changed by `values`."""
    fields = dict.fromkeys(HEADER.split(";"), "")
    fields.update(
        date="01/09/2016",
        campaign=SLUG,
        channel="bank",
        method="bank_transfer",
        amount="10,00",
    )
    fields.update(values)
    return ";".join(fields.values())


# Donors of the year-1 file (codici fiscali)

MARIA, GIUSEPPE, GIOVANNI = "CLMMRA43A53D150K", "DLCGPP57H16B898S", "BRBGNN87P20D142W"

# Registry

ERASURE_DAY = date(2030, 1, 1)


def erase(store: LedgerStore, donor_id: str, force: bool = False, today: date = ERASURE_DAY) -> int:
    """Erase a donor from the registry as the back office does, on the facts it reads."""
    with store.database.reading() as session:
        donations, has_tax_code, last = registry.erasure_facts(session, donor_id)
    return store.app.erase_donor(
        uuid.UUID(donor_id),
        [uuid.UUID(d) for d in donations],
        has_tax_code,
        date.fromisoformat(last) if last else None,
        "richiesta dell'interessato",
        "admin@example.org",
        force,
        today,
    )


def find(store: LedgerStore, text: str) -> dict:
    """The one registry entry a search finds."""
    with store.database.reading() as session:
        [entry] = registry.search_donors(session, text)
    return entry


READ_MODEL_TABLES = (
    "campaigns_view",
    "gifts_view",
    "money_movements",
    "registry_donors",
    "stands_view",
    "registry_keys",
    "registry_gifts",
    "registry_aliases",
    "registry_consents",
    "audit_view",
)


def dump(store: LedgerStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read model, in an order that does not depend on how they came."""
    with store.database.reading() as session:
        return {
            table: sorted(session.query(f"SELECT * FROM {table}"), key=repr)
            for table in READ_MODEL_TABLES
        }


# Stands

STAND_DAY = date(2016, 9, 10)
COINS = {5000: 2, 2000: 5, 1000: 10, 500: 7, 200: 11, 100: 9, 50: 3, 20: 4, 10: 2, 5: 1}
COINS_TOTAL = 10000 + 10000 + 10000 + 3500 + 2200 + 900 + 150 + 80 + 20 + 5  # 36,855 cents
OPENING = {
    "campaign": SLUG,
    "place": "Piazza Duomo",
    "comune": "Crema",
    "district": "Crema",
    "day": "2016-09-10",
    "volunteers": ["Anna", "Bruno"],
}


def named(email: str, amount: int, marketing: bool = False) -> NamedGift:
    """A named gift at a stand, with privacy consent."""
    return NamedGift(
        str(uuid.uuid4()),
        DonorDetails.parse(first_name="N", last_name="N", email=email),
        amount,
        privacy_consent=True,
        marketing_consent=marketing,
    )


def open_stand(store: LedgerStore, place: str = "Piazza del Comune") -> uuid.UUID:
    """The demo campaigns, and a stand opened in Cremona on STAND_DAY."""
    start_campaigns(store)
    return store.app.open_stand(SLUG, place, "Cremona", "Cremona", STAND_DAY, ["Anna", "Bruno"])


# The web app


def signed_in(app: Flask, role: str) -> FlaskClient:
    """A client signed in as `{role}@example.org` (the back-office fixtures add them)."""
    client = app.test_client()
    response = client.post("/login", data={"email": f"{role}@example.org", "password": PASSWORD})
    assert response.status_code == 302
    return client


def bearer(client: FlaskClient, role: str) -> dict[str, str]:
    """The header of a new user's API token."""
    from web import store

    with client.application.app_context():
        email = f"{role}-{uuid.uuid4().hex[:6]}@example.org"
        store().app.add_user(email, role, PASSWORD)
        return {"Authorization": f"Bearer {store().app.issue_token(email)}"}


# The demo campaigns ended in 2016 and 2018: the form offers only a campaign running today.
CURRENT = "legami-in-corso"


def make_app(store_url: str, **config: Any) -> Flask:
    """The app with the demo campaigns and one running today (CURRENT), caught up."""
    from web import create_app, store

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": store_url,
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )
    with app.app_context():
        start_campaigns(store())
        store().app.start_campaign(CURRENT, "Legami in corso", 1_000_000)
        store().runner.catch_up()  # as `ledger project --follow` does beside the server
    return app


def pdf_text(path: Path) -> str:
    """The words of the PDF as pdftotext reads them, spaces collapsed."""
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(out.split())


# Stripe webhooks

SECRET = "whsec_test_fondo"


def post(client: FlaskClient, event: Any) -> TestResponse:
    """Deliver a Stripe event (or raw bytes) signed with SECRET; the response."""
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.post(
        "/webhooks/stripe",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, SECRET)},
    )


def deliver(
    client: FlaskClient, event: dict[str, Any], secret: str = SECRET, timestamp: int | None = None
) -> int:
    """Deliver a Stripe event signed with `secret`; the status code."""
    payload = json.dumps(event).encode()
    response = client.post(
        "/webhooks/stripe",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, secret, timestamp)},
    )
    return response.status_code


def served_figures(client: FlaskClient) -> dict[str, Any]:
    """The running campaign's progress in the client's app, once caught up."""
    from web import store

    with client.application.app_context():
        store().runner.catch_up()
        return progress(store().database, SLUG, date(2030, 1, 1))[0]


def mario(story: StripeStory, email: str = "Mario.Rossi@Example.org") -> dict[str, Any]:
    return story.customer_details("Mario Rossi", email, "+39 333 123 4567")
