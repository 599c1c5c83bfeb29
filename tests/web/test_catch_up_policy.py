"""One catch-up policy: pages and the API read what the follower applied and never apply
events themselves; the CLI catches up first; a read model left behind shows, in /healthz and
in the back office, instead of passing silently."""

import ast
import json
import threading
import time
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from ledger.gift import Gift
from ledger.identity import DonorDetails
from projections.store import LedgerStore
from web import create_app
from web.cli import main
from web.public import stall_notices

WEB = Path(__file__).resolve().parents[2] / "web"
SLUG = "fare-legami-anni-2-3"


def _ledger(app: Flask) -> LedgerStore:
    ledger: LedgerStore = app.extensions["ledger_store"]
    return ledger


def _campaign_and_gift(app: Flask, cents: int, key: str) -> int:
    """A campaign the read models know, then a gift they do not yet: how many events wait."""
    ledger = _ledger(app)
    ledger.app.start_campaign(
        SLUG, "Fare Legami — anni 2 e 3", 33_600_000, date(2016, 7, 1), date(2018, 6, 30)
    )
    ledger.runner.catch_up()
    applied = ledger.app.recorder.max_notification_id() or 0
    ledger.app.record_gift(
        Gift(
            source_key=f"bank:{key}",
            campaign=SLUG,
            amount_cents=cents,
            value_date=date(2016, 9, 1),
            channel="bank",
            method="bank_transfer",
            details=DonorDetails(first_name="Anna", last_name="Rossi", email=f"{key}@example.org"),
            privacy_consent=True,
        )
    )
    return (ledger.app.recorder.max_notification_id() or 0) - applied


def test_pages_and_api_read_without_applying_events(app: Flask, store_url: str) -> None:
    waiting = _campaign_and_gift(app, 12_345, "cro-1")
    ledger = _ledger(app)
    plain = FlaskClient(app)  # no follower stands in for this one

    assert plain.get("/").status_code == 200
    before = plain.get(f"/api/v1/campaigns/{SLUG}/progress").get_json()
    health = plain.get("/healthz").get_json()

    assert waiting >= 1
    assert before["raised_cents"] == 0 and before["gifts"] == 0
    # The gift's events still wait for every read model: no request applied them.
    assert {entry["name"]: entry["behind"] for entry in health["read_models"]} == {
        model.name: waiting for model in ledger.runner.projections
    }
    assert health["status"] == "ok"

    cli = CliRunner(env={"LEDGER_DATABASE_URL": store_url})
    [reported] = json.loads(cli.invoke(main, ["report", "progress", "--json"]).output)
    after = plain.get(f"/api/v1/campaigns/{SLUG}/progress").get_json()
    health = plain.get("/healthz").get_json()

    # The CLI caught up first; the API now shows the very same figures.
    assert reported["raised_cents"] == after["raised_cents"] == 12_345
    assert reported["gifts"] == after["gifts"] == 1
    assert [(entry["behind"], entry["waiting_seconds"]) for entry in health["read_models"]] == [
        (0, 0.0)
    ] * len(ledger.runner.projections)


def test_back_office_notices_events_left_waiting(app: Flask) -> None:
    _campaign_and_gift(app, 5_000, "cro-2")
    ledger = _ledger(app)

    app.config["LEDGER_LAG_NOTICE_SECONDS"] = 3600
    with app.test_request_context("/admin/", headers={"Accept-Language": "it"}):
        assert stall_notices() == []
    app.config["LEDGER_LAG_NOTICE_SECONDS"] = 0
    with app.test_request_context("/admin/", headers={"Accept-Language": "it"}):
        [notice] = stall_notices()
    assert "ledger project --follow" in notice
    assert "campaign_totals" in notice and "registry" in notice

    ledger.runner.catch_up()
    with app.test_request_context("/admin/", headers={"Accept-Language": "it"}):
        assert stall_notices() == []


def _functions_calling_catch_up() -> set[str]:
    found = set()
    for path in sorted(WEB.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "catch_up"
                for call in ast.walk(node)
            ):
                found.add(f"{path.relative_to(WEB)}:{node.name}")
    return found


def test_only_the_cli_and_batch_commands_apply_events() -> None:
    """No view applies events: the CLI's one helper does, the mail sender (a process of its
    own) does, and issuing a year's receipts does, since it must see its own voids."""
    assert _functions_calling_catch_up() == {
        "cli.py:_catch_up",
        "mail.py:send_due",
        "receipts.py:issue_year",
    }


def test_the_page_after_a_change_waits_for_the_follower_to_apply_it(store_url: str) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": store_url,
            "WTF_CSRF_ENABLED": False,
        }
    )
    ledger = _ledger(app)
    ledger.app.start_campaign(
        SLUG, "Fare Legami — anni 2 e 3", 33_600_000, date(2016, 7, 1), date(2018, 6, 30)
    )
    ledger.app.add_user("staff@example.org", "staff", "una-password-lunga")
    ledger.runner.catch_up()
    plain = FlaskClient(app)  # the follower below is the only thing applying events
    assert (
        plain.post(
            "/login", data={"email": "staff@example.org", "password": "una-password-lunga"}
        ).status_code
        == 302
    )
    posted = plain.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-77",
            "value_date": "2016-09-01",
            "campaign": SLUG,
            "amount": "250,00",
            "district": "",
        },
    )
    assert posted.status_code == 302

    # A follower in its own process would: its own store, applying a moment later.
    def follow_late() -> None:
        time.sleep(0.5)
        follower = LedgerStore.open(store_url, create_tables=False)
        follower.runner.catch_up()
        follower.close()

    late = threading.Thread(target=follow_late)
    late.start()
    page = plain.get(posted.headers["Location"])
    late.join()
    app.extensions["ledger_store"].close()

    assert page.status_code == 200
    assert "bank:CRO-77" in page.get_data(as_text=True)
