"""The registry under merges, consent changes and erasure: totals never move, data goes."""

import uuid
from datetime import date

import pytest

from ledger.csv_import import import_donations
from ledger.donation import Donation
from ledger.errors import ConflictError, InvalidInputError
from ledger.gift import Gift
from ledger.identity import DonorDetails
from ledger.privacy import unseal
from ledger.stand import StandCollection
from projections import registry
from projections.store import LedgerStore
from tests.helpers import (
    COINS,
    YEAR1,
    dump,
    erase,
    figures,
    find,
    named,
    open_stand,
    start_campaigns,
)

TODAY = date(2030, 1, 1)


def loaded(store: LedgerStore) -> LedgerStore:
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    store.runner.catch_up()
    return store


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
        before["raised_cents"],
        before["donors"],
        before["contacts"],
        before["gifts"],
    )
    with store.database.reading() as session:
        erased = registry.donor(session, entry["donor_id"])
        assert erased is not None and erased["erased"] == 1
        assert erased["email"] == erased["phone"] == erased["last_name"] == ""
        assert registry.donor_keys(session, entry["donor_id"]) == []
        assert registry.search_donors(session, "simonebarbieri35") == []
    for gift in gifts:
        donation: Donation = store.app.repository.get(uuid.UUID(gift["donation_id"]))
        assert store.app.details_of(donation) is None  # unreadable in the event store too
    incremental = dump(store)
    store.runner.rebuild()
    assert dump(store) == incremental  # a rebuild cannot read them either, and counts the same
    assert figures(store, "fare-legami-anno-1")["contacts"] == before["contacts"]


def test_erasure_is_refused_while_the_law_wants_the_data_kept(store: LedgerStore) -> None:
    loaded(store)
    entry = find(store, "CLMMRA43A53D150K")
    with pytest.raises(ConflictError, match="kept 10 years"):
        erase(store, entry["donor_id"], today=date(2020, 1, 1))
    assert find(store, "CLMMRA43A53D150K")["erased"] == 0
    erase(store, entry["donor_id"], force=True, today=date(2020, 1, 1))
    store.runner.catch_up()
    with store.database.reading() as session:
        assert registry.search_donors(session, "CLMMRA43A53D150K") == []
        audit = session.query(
            "SELECT 1 FROM registry_donors WHERE donor_id = ? AND erased = 1", (entry["donor_id"],)
        )
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
    store.app.change_consent(
        uuid.UUID(entry["donor_id"]),
        True,
        False,
        "e-mail del 3 marzo",
        date(2016, 3, 3),
        "staff@example.org",
    )
    store.runner.catch_up()
    with store.database.reading() as session:
        history = registry.donor_consents(session, entry["donor_id"])
        now = registry.donor(session, entry["donor_id"])
    assert history[-1]["how"] == "e-mail del 3 marzo" and history[-1]["marketing"] == 0
    assert len(history) >= 2 and now is not None and now["marketing_consent"] == 0


def test_near_matches_are_suggested_as_duplicates(store: LedgerStore) -> None:
    start_campaigns(store)
    people = [
        ("Mario", "Rossi", "Cremona", "mario.rossi@example.org", ""),
        ("Mario", "Rossi", "Cremona", "", "+39 333 1234567"),  # same name and comune
        ("Mario", "Rossi", "Crema", "", "+39 333 7654321"),  # another comune: someone else
        ("Giulia", "Verdi", "Crema", "giulia.verdi@example.org", ""),
        ("G.", "Verdi", "Crema", "giuliaverdi@example.com", ""),  # dots and domain aside
        ("Marco", "Bianchi", "", "marco.bianchi@example.org", ""),
        ("Marco", "Bianchi", "Soresina", "marco.bianci@example.org", ""),  # one letter off
        ("Anna", "Neri", "", "anna.neri@example.org", ""),
        ("Luca", "Galli", "", "luca.sala@example.org", ""),  # nothing alike
    ]
    store.app.record_gifts(
        [
            Gift(
                source_key=f"bank:DUP-{index}",
                campaign="fare-legami-anno-1",
                amount_cents=5_000,
                value_date=date(2016, 3, 1),
                channel="bank",
                method="bank_transfer",
                details=DonorDetails.parse(
                    first_name=first, last_name=last, city=city, email=email, phone=phone
                ),
            )
            for index, (first, last, city, email, phone) in enumerate(people)
        ]
    )
    store.runner.catch_up()
    with store.database.reading() as session:
        pairs = registry.suggested_duplicates(session)
    found = sorted((a["last_name"], a["city"], b["city"], why) for a, b, why in pairs)
    assert found == [
        ("Bianchi", "", "Soresina", "e-mail simile"),
        ("Rossi", "Cremona", "Cremona", "stesso nome e comune"),
        ("Verdi", "Crema", "Crema", "e-mail simile"),
    ]


def test_erasure_reaches_the_givers_logged_at_a_stand(store: LedgerStore) -> None:
    stand_id = open_stand(store)
    giver = named("piazza.giver@example.org", 2000, marketing=True)
    store.app.log_named_gift(stand_id, giver)
    store.app.tally_gift(stand_id, str(uuid.uuid4()))
    for counter in ("Anna", "Bruno"):
        store.app.count_cash(stand_id, counter, COINS)
    store.app.close_stand(stand_id)
    store.runner.catch_up()
    before = figures(store)
    stand: StandCollection = store.app.repository.get(stand_id)
    subject = Donation.create_id(stand.gift_key(giver.entry_id))
    sealed = stand.named[giver.entry_id][2]
    readable = unseal(store.app.vault.keys_for([subject]).get(subject), subject, sealed)
    assert readable is not None and readable["donor"]["email"] == "piazza.giver@example.org"
    entry = find(store, "piazza.giver@example.org")
    assert erase(store, entry["donor_id"]) == 1
    store.runner.catch_up()
    # The stand's own event kept the giver sealed with the same key: it is gone too.
    assert unseal(store.app.vault.keys_for([subject]).get(subject), subject, sealed) is None
    after = figures(store)
    assert (after["raised_cents"], after["donors"], after["contacts"]) == (
        before["raised_cents"],
        before["donors"],
        before["contacts"],
    )
