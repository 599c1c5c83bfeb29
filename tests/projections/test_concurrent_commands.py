"""Commands racing on the same aggregate: one wins, the others get a clear conflict."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from ledger.donor import Donor
from ledger.errors import ConflictError
from ledger.gift import Gift
from ledger.identity import DonorDetails
from projections import registry
from projections.store import LedgerStore
from tests.helpers import start_campaigns

RACERS = 4  # each racer is a whole store with its own connections


def two_donors(store: LedgerStore) -> tuple[uuid.UUID, uuid.UUID]:
    start_campaigns(store)
    store.app.record_gifts(
        [
            Gift(
                source_key=f"bank:RACE-{index}",
                campaign="fare-legami-anno-1",
                amount_cents=2_500,
                value_date=date(2016, 3, 1),
                channel="bank",
                method="bank_transfer",
                details=DonorDetails.parse(first_name="Anna", last_name="Neri", email=email),
            )
            for index, email in enumerate(("anna.neri@example.org", "neri.anna@example.net"))
        ]
    )
    store.runner.catch_up()
    with store.database.reading() as session:
        ids = [
            registry.search_donors(session, email)[0]["donor_id"]
            for email in ("anna.neri@example.org", "neri.anna@example.net")
        ]
    return uuid.UUID(ids[0]), uuid.UUID(ids[1])


def race(store_url: str, command: str, *args: object) -> list[str]:
    """Each racer opens its own store (as separate workers do) and runs the same command at
    the same moment; returns 'ok' or 'conflict' per racer. Any other error fails the test."""
    start = threading.Barrier(RACERS)
    stores = [LedgerStore.open(store_url, create_tables=False) for _ in range(RACERS)]

    def one(racer: LedgerStore) -> str:
        start.wait(timeout=30)
        try:
            getattr(racer.app, command)(*args)
        except ConflictError:
            return "conflict"
        return "ok"

    try:
        with ThreadPoolExecutor(RACERS) as pool:
            return [future.result() for future in [pool.submit(one, s) for s in stores]]
    finally:
        for racer in stores:
            racer.close()


def test_parallel_merges_of_the_same_donors_record_one_merge(
    store: LedgerStore, store_url: str
) -> None:
    first, second = two_donors(store)
    outcomes = race(store_url, "merge_donors", second, first, "staff@example.org")
    assert sorted(outcomes) == ["conflict"] * (RACERS - 1) + ["ok"]
    merges = [e for e in store.app.events.get(second) if isinstance(e, Donor.MergedInto)]
    assert len(merges) == 1 and merges[0].other == str(first)
    store.runner.catch_up()
    with store.database.reading() as session:
        found = registry.search_donors(session, "neri")
    assert [entry["donor_id"] for entry in found] == [str(first)]


def test_racing_first_changes_of_a_registry_entry_never_crash(
    store: LedgerStore, store_url: str
) -> None:
    first, _second = two_donors(store)
    outcomes = race(
        store_url,
        "change_consent",
        first,
        True,
        False,
        "e-mail del 3 marzo",
        date(2016, 3, 3),
        "staff@example.org",
    )
    # The first change opens the entry: racers that opened it too lose cleanly, none crash.
    assert "ok" in outcomes and set(outcomes) <= {"ok", "conflict"}
    changes = [e for e in store.app.events.get(first) if isinstance(e, Donor.ConsentChanged)]
    assert len(changes) == outcomes.count("ok")
