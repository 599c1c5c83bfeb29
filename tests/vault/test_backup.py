"""Backup and restore: the events and the keys come back whole, the read models are rebuilt."""

import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from click.testing import CliRunner

from ledger.donation import Donation
from ledger.gift import Gift
from ledger.identity import DonorDetails
from projections.store import LedgerStore, read_models
from tests.helpers import erase, find, start_campaigns
from vault.backup import back_up, restore
from vault.keys import TABLES as VAULT_TABLES
from web.cli import main

ANNO_1 = "fare-legami-anno-1"


@pytest.fixture
def fresh_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same kind of store: where a backup is restored."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = f"fondo_test_{uuid.uuid4().hex[:12]}"
    admin_url = urlunparse(urlparse(store_url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(store_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ledger(url: str, *args: str) -> str:
    result = CliRunner(env={"LEDGER_DATABASE_URL": url}).invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def what_the_foundation_sees(url: str, tmp_path: Path, label: str) -> dict[str, object]:
    """The figures, the registry and both exports, as the CLI gives them."""
    ledger(url, "export", "donors", "--out", str(tmp_path / f"{label}-donors.csv"))
    ledger(url, "export", "donations", "--out", str(tmp_path / f"{label}-donations.csv"))
    return {
        "figures": json.loads(ledger(url, "report", "progress", "--json")),
        "donors": (tmp_path / f"{label}-donors.csv").read_bytes(),
        "donations": (tmp_path / f"{label}-donations.csv").read_bytes(),
    }


@pytest.mark.slow
def test_backup_restored_into_a_new_database_gives_the_same_registry_before_and_after_rebuild(
    store_url: str, fresh_url: str, tmp_path: Path
) -> None:
    ledger(store_url, "init", "--demo")
    source = LedgerStore.open(store_url)
    try:
        source.runner.catch_up()
        entry = find(source, "simonebarbieri35@example.net")
        erased = erase(source, entry["donor_id"], force=True)
        source.runner.catch_up()
    finally:
        source.close()
    assert erased >= 1
    before = what_the_foundation_sees(store_url, tmp_path, "before")
    backup = tmp_path / "ledger.backup"
    out = ledger(store_url, "backup", str(backup))
    assert out.startswith("backup ")

    restored_out = ledger(fresh_url, "restore", str(backup))
    after = what_the_foundation_sees(fresh_url, tmp_path, "after")

    assert after == before
    [year1] = [f for f in after["figures"] if f["campaign"] == ANNO_1]  # type: ignore[attr-defined]
    assert (year1["raised_cents"], year1["donors"], year1["contacts"]) == (4_270_800, 2_289, 324)
    # The erased donor stays erased: their key is not in the backup either.
    assert entry["email"].encode() not in after["donations"]  # type: ignore[operator]
    assert restored_out.split(": ")[1] == out.split(": ")[1]
    # The keys came back with the events, so rebuilding the read models again on the new
    # database unseals the same registry.
    ledger(fresh_url, "rebuild")
    assert what_the_foundation_sees(fresh_url, tmp_path, "rebuilt") == before


@pytest.mark.slow
def test_restore_refuses_a_database_that_already_has_events(store_url: str, tmp_path: Path) -> None:
    ledger(store_url, "init", "--demo")
    backup = tmp_path / "ledger.backup"
    ledger(store_url, "backup", str(backup))
    result = CliRunner(env={"LEDGER_DATABASE_URL": store_url}).invoke(
        main, ["restore", str(backup)]
    )
    assert result.exit_code == 1
    assert "empty database" in result.output
    not_a_backup = tmp_path / "donations.csv"
    not_a_backup.write_text("date;campaign\n", encoding="utf-8")
    result = CliRunner(env={"LEDGER_DATABASE_URL": store_url}).invoke(
        main, ["restore", str(not_a_backup)]
    )
    assert result.exit_code == 1
    assert "not a Fondo backup" in result.output


def identified_gift(number: int) -> Gift:
    return Gift(
        source_key=f"bank:BK-{number}",
        campaign=ANNO_1,
        amount_cents=1_000 + number,
        value_date=date(2016, 1, 10),
        channel="bank",
        method="bank_transfer",
        details=DonorDetails.parse(
            first_name="Lia", last_name=f"Neri {number}", email=f"lia.neri.{number}@example.org"
        ),
    )


def test_a_backup_taken_while_gifts_are_recorded_holds_each_wholly_or_not_at_all(
    store: LedgerStore, fresh_url: str, tmp_path: Path
) -> None:
    start_campaigns(store)
    store.app.record_gifts([identified_gift(n) for n in range(20)])
    events_before = store.app.recorder.max_notification_id() or 0
    backup = tmp_path / "during-writes.backup"

    # The keys are read first: a gift recorded right after (its key, then its events) must
    # not reach the backup as events whose key is missing.
    summary = back_up(
        store,
        backup,
        on_keys_read=lambda: store.app.record_gifts([identified_gift(n) for n in range(20, 30)]),
    )

    assert summary.events == events_before
    assert (store.app.recorder.max_notification_id() or 0) > events_before
    target = LedgerStore.open(fresh_url)
    try:
        restore(target, backup)
        assert (target.app.recorder.max_notification_id() or 0) == events_before
        readable = 0
        for number in range(30):
            donation = target.app.find_donation(f"bank:BK-{number}")
            if number >= 20:
                assert donation is None
                continue
            assert donation is not None
            details = target.app.details_of(donation)
            assert details is not None and details.email == f"lia.neri.{number}@example.org"
            readable += 1
        assert readable == 20
        assert Donation.create_id("bank:BK-0") in target.app.vault.keys_for(
            [Donation.create_id("bank:BK-0")]
        )
    finally:
        target.close()


def personal_keys(store: LedgerStore) -> list[tuple[str, str]]:
    with store.database.reading() as session:
        return [
            (str(s), str(k))
            for s, k in session.query("SELECT subject, secret FROM personal_keys ORDER BY subject")
        ]


def test_no_read_model_owns_a_table_of_the_key_vault() -> None:
    owned = {table for model in read_models() for table in model.tables}
    assert owned & set(VAULT_TABLES) == set()


def test_rebuilding_the_read_models_leaves_every_key_as_it_was(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gifts([identified_gift(n) for n in range(12)])
    store.runner.catch_up()
    keys = personal_keys(store)
    assert len(keys) == 12

    rebuilt = store.runner.rebuild()

    # Every read model applied every event again.
    assert rebuilt == len(read_models()) * (store.app.recorder.max_notification_id() or 0)
    assert personal_keys(store) == keys
    entry = find(store, "lia.neri.7@example.org")
    assert (entry["email"], entry["last_name"]) == ("lia.neri.7@example.org", "Neri 7")


def test_no_read_model_owns_the_webhook_inbox() -> None:
    owned = {table for model in read_models() for table in model.tables}
    assert "stripe_inbox" not in owned


def test_a_backup_keeps_the_stripe_deliveries_applied_and_waiting(
    store_url: str, fresh_url: str, tmp_path: Path
) -> None:
    """Deliveries acknowledged to Stripe are sent no more: the backup holds them, a waiting
    one applies after the restore, and an applied one still makes its resend a no-op."""
    from tests.fakestripe import StripeStory
    from web.inbox import InboxProcessor

    ledger(store_url, "init")
    source = LedgerStore.open(store_url)
    story = StripeStory()
    details = story.customer_details("Lia Neri", "lia@example.org")
    _one, (_i1, applied) = story.card_gift(2500, details)
    _two, (_i2, waiting) = story.card_gift(4000, details)
    try:
        start_campaigns(source)
        assert source.inbox.receive(applied["id"], applied["type"], json.dumps(applied))
        assert InboxProcessor(source).drain() == 1
        assert source.inbox.receive(waiting["id"], waiting["type"], json.dumps(waiting))
    finally:
        source.close()
    backup = tmp_path / "ledger.backup"
    assert ledger(store_url, "backup", str(backup)).rstrip().endswith("2 Stripe deliveries")

    assert ledger(fresh_url, "restore", str(backup)).rstrip().endswith("2 Stripe deliveries")
    restored = LedgerStore.open(fresh_url)
    try:
        assert restored.inbox.state().pending == 1
        assert not restored.inbox.receive(applied["id"], applied["type"], json.dumps(applied))
    finally:
        restored.close()
    ledger(fresh_url, "inbox")
    [figures] = [
        f
        for f in json.loads(ledger(fresh_url, "report", "progress", "--json"))
        if f["campaign"] == "fare-legami-anni-2-3"
    ]
    assert (figures["raised_cents"], figures["gifts"]) == (6500, 2)
