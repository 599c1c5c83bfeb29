"""The registry under merges, consent changes and erasure: totals never move, data goes."""

import uuid
from datetime import date

import pytest

from ledger.csv_import import import_donations
from ledger.errors import ConflictError, InvalidInputError
from projections import registry
from projections.store import LedgerStore
from tests.conftest import YEAR1
from tests.ledger.test_csv_import import figures, start_campaigns
from tests.projections.test_runner import dump

TODAY = date(2030, 1, 1)


def loaded(store: LedgerStore) -> LedgerStore:
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    store.runner.catch_up()
    return store


def find(store: LedgerStore, text: str) -> dict:
    with store.database.reading() as session:
        [entry] = registry.search_donors(session, text)
    return entry


def erase(store: LedgerStore, donor_id: str, force: bool = False,
          today: date = TODAY) -> int:
    with store.database.reading() as session:
        donations, has_tax_code, last = registry.erasure_facts(session, donor_id)
    return store.app.erase_donor(uuid.UUID(donor_id), [uuid.UUID(d) for d in donations],
                                 has_tax_code, date.fromisoformat(last) if last else None,
                                 "richiesta dell'interessato", "admin@example.org", force, today)


def test_search_finds_a_donor_however_the_phone_is_written(store: LedgerStore) -> None:
    loaded(store)
    by_phone = find(store, "366 207 6513")
    assert by_phone == find(store, "+39 366.207.6513")
    assert by_phone["email"] == "simonebarbieri35@example.net"
    assert find(store, "CLMMRA43A53D150K")["last_name"] == "Colombo"


def test_erasure_blanks_everything_and_keeps_every_total(store: LedgerStore) -> None:
    loaded(store)
    before = figures(store, "fare-legami-anno-1")
    entry = find(store, "simonebarbieri35@example.net")
    with store.database.reading() as session:
        gifts = registry.donor_gifts(session, entry["donor_id"])
    destroyed = erase(store, entry["donor_id"])
    assert destroyed == len(gifts) > 0
    after = figures(store, "fare-legami-anno-1")
    assert (after["raised_cents"], after["donors"], after["contacts"], after["gifts"]) == (
        before["raised_cents"], before["donors"], before["contacts"], before["gifts"])
    with store.database.reading() as session:
        erased = registry.donor(session, entry["donor_id"])
        assert erased is not None and erased["erased"] == 1
        assert erased["email"] == erased["phone"] == erased["last_name"] == ""
        assert registry.donor_keys(session, entry["donor_id"]) == []
        assert registry.search_donors(session, "simonebarbieri35") == []
    for gift in gifts:
        donation = store.app.repository.get(uuid.UUID(gift["donation_id"]))
        assert store.app.details_of(donation) is None  # unreadable in the event store too
    incremental = dump(store)
    store.runner.rebuild()
    assert dump(store) == incremental  # a rebuild cannot read them either, and counts the same
    assert figures(store, "fare-legami-anno-1")["contacts"] == before["contacts"]


def test_erasure_is_refused_while_the_law_wants_the_data_kept(store: LedgerStore) -> None:
    loaded(store)
    entry = find(store, "CLMMRA43A53D150K")
    with pytest.raises(ConflictError, match="10 anni"):
        erase(store, entry["donor_id"], today=date(2020, 1, 1))
    assert find(store, "CLMMRA43A53D150K")["erased"] == 0
    erase(store, entry["donor_id"], force=True, today=date(2020, 1, 1))
    store.runner.catch_up()
    with store.database.reading() as session:
        assert registry.search_donors(session, "CLMMRA43A53D150K") == []
        audit = session.query("SELECT 1 FROM registry_donors WHERE donor_id = ? AND erased = 1",
                              (entry["donor_id"],))
    assert audit


def test_merge_redirects_and_keeps_the_money(store: LedgerStore) -> None:
    loaded(store)
    before = figures(store, "fare-legami-anno-1")
    first, second = find(store, "CLMMRA43A53D150K"), find(store, "DLCGPP57H16B898S")
    store.app.merge_donors(uuid.UUID(second["donor_id"]), uuid.UUID(first["donor_id"]), "staff")
    with pytest.raises(ConflictError):
        store.app.merge_donors(uuid.UUID(second["donor_id"]), uuid.UUID(first["donor_id"]), "s")
    with pytest.raises(InvalidInputError):
        store.app.merge_donors(uuid.UUID(first["donor_id"]), uuid.UUID(first["donor_id"]), "s")
    after = figures(store, "fare-legami-anno-1")
    assert after["raised_cents"] == before["raised_cents"]
    assert after["contacts"] == before["contacts"] - 1
    with store.database.reading() as session:
        assert registry.resolve(session, second["donor_id"]) == first["donor_id"]
        assert registry.donor(session, second["donor_id"]) is None
        assert len(registry.donor_gifts(session, first["donor_id"])) >= 2
    incremental = dump(store)
    store.runner.rebuild()
    assert dump(store) == incremental


def test_consent_changes_keep_their_history(store: LedgerStore) -> None:
    loaded(store)
    entry = find(store, "CLMMRA43A53D150K")
    store.app.change_consent(uuid.UUID(entry["donor_id"]), True, False,
                             "e-mail del 3 marzo", date(2016, 3, 3), "staff@example.org")
    store.runner.catch_up()
    with store.database.reading() as session:
        history = registry.donor_consents(session, entry["donor_id"])
        now = registry.donor(session, entry["donor_id"])
    assert history[-1]["how"] == "e-mail del 3 marzo" and history[-1]["marketing"] == 0
    assert len(history) >= 2 and now is not None and now["marketing_consent"] == 0
