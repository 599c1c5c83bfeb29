"""Piazza stands: taps, named givers, the two-person count and the close that records the gifts."""

import uuid
from datetime import date

import pytest

from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.identity import DonorDetails
from ledger.stand import NamedGift
from projections.stands import reconciliation
from projections.store import LedgerStore
from tests.ledger.test_csv_import import figures, start_campaigns

DAY = date(2016, 9, 10)
COINS = {5000: 2, 2000: 5, 1000: 10, 500: 7, 200: 11, 100: 9, 50: 3, 20: 4, 10: 2, 5: 1}
COINS_TOTAL = 10000 + 10000 + 10000 + 3500 + 2200 + 900 + 150 + 80 + 20 + 5  # 36,855 cents


def open_stand(store: LedgerStore, place: str = "Piazza del Comune") -> uuid.UUID:
    start_campaigns(store)
    return store.app.open_stand("fare-legami-anni-2-3", place, "Cremona", "Cremona", DAY,
                                ["Anna", "Bruno"])


def named(email: str, amount: int, marketing: bool = False) -> NamedGift:
    return NamedGift(str(uuid.uuid4()), DonorDetails.parse(first_name="N", last_name="N",
                                                           email=email),
                     amount, privacy_consent=True, marketing_consent=marketing)


def test_57_taps_and_3_named_givers_move_progress_by_60_donors(store: LedgerStore) -> None:
    stand = open_stand(store)
    before = figures(store)
    for _ in range(57):
        store.app.tally_gift(stand, str(uuid.uuid4()))
    for index, amount in enumerate((2000, 5000, 1000)):
        store.app.log_named_gift(stand, named(f"giver{index}@example.org", amount))
    store.app.count_cash(stand, "Anna", COINS)
    store.app.count_cash(stand, "Bruno", COINS)
    closing = store.app.close_stand(stand)["closing"]
    assert closing == {"counted_cents": COINS_TOTAL, "named_cents": 8000,
                       "anonymous_cents": COINS_TOTAL - 8000, "tallied": 57, "named": 3}
    after = figures(store)
    assert after["donors"] - before["donors"] == 60
    assert after["contacts"] - before["contacts"] == 3
    assert after["raised_cents"] - before["raised_cents"] == COINS_TOTAL
    assert after["by_channel"]["stand"]["gifts"] == 60


def test_a_resent_tap_or_undo_is_a_no_op(store: LedgerStore) -> None:
    stand = open_stand(store)
    tap = str(uuid.uuid4())
    assert store.app.tally_gift(stand, tap) is True
    assert store.app.tally_gift(stand, tap) is False
    store.app.tally_gift(stand, str(uuid.uuid4()))
    assert store.app.undo_tally(stand, tap) is True
    assert store.app.undo_tally(stand, tap) is False
    assert store.app.get_stand(stand).tallied == 1
    with pytest.raises(NotFoundError):
        store.app.undo_tally(stand, "never-sent")


def test_reopening_the_same_stand_returns_it(store: LedgerStore) -> None:
    first = open_stand(store)
    assert store.app.open_stand("fare-legami-anni-2-3", "Piazza del Comune", "Cremona",
                                "Cremona", DAY, ["Anna"]) == first


def test_counts_that_differ_keep_the_stand_open_with_the_difference(store: LedgerStore) -> None:
    stand = open_stand(store)
    store.app.tally_gift(stand, str(uuid.uuid4()))
    store.app.count_cash(stand, "Anna", {1000: 3})
    with pytest.raises(ConflictError, match="due volontari"):
        store.app.close_stand(stand)
    store.app.count_cash(stand, "Bruno", {1000: 2, 500: 1})
    with pytest.raises(ConflictError, match="differenza 500"):
        store.app.close_stand(stand)
    assert store.app.get_stand(stand).status == "open"
    store.app.count_cash(stand, "Bruno", {1000: 3})  # recounted: the latest count counts
    assert store.app.close_stand(stand)["status"] == "closed"
    with pytest.raises(ConflictError):
        store.app.tally_gift(stand, str(uuid.uuid4()))
    with pytest.raises(ConflictError):
        store.app.close_stand(stand)


def test_counted_cash_below_named_cash_is_refused(store: LedgerStore) -> None:
    stand = open_stand(store)
    store.app.log_named_gift(stand, named("big@example.org", 5000))
    for counter in ("Anna", "Bruno"):
        store.app.count_cash(stand, counter, {2000: 1})
    with pytest.raises(ConflictError, match="meno dei doni nominativi"):
        store.app.close_stand(stand)
    assert figures(store)["raised_cents"] == 0


def test_named_gift_needs_privacy_consent_and_a_contact(store: LedgerStore) -> None:
    stand = open_stand(store)
    no_consent = NamedGift("e1", DonorDetails.parse(email="a@example.org"), 500, False, False)
    with pytest.raises(InvalidInputError) as refused:
        store.app.log_named_gift(stand, no_consent)
    assert "privacy_consent" in refused.value.fields
    name_only = NamedGift("e2", DonorDetails.parse(first_name="Solo"), 500, True, False)
    with pytest.raises(InvalidInputError):
        store.app.log_named_gift(stand, name_only)


def test_named_givers_personal_data_is_sealed_in_the_stand_events(store: LedgerStore) -> None:
    stand = open_stand(store)
    store.app.log_named_gift(stand, named("riservato@example.org", 500))
    states = b"".join(e.state for e in store.app.recorder.select_events(stand))
    assert b"riservato" not in states


def test_deposit_reconciles_counted_and_deposited(store: LedgerStore) -> None:
    first, second = open_stand(store, "Piazza Uno"), open_stand(store, "Piazza Due")
    for stand, coins in ((first, {1000: 5}), (second, {1000: 3})):
        store.app.tally_gift(stand, str(uuid.uuid4()))
        for counter in ("Anna", "Bruno"):
            store.app.count_cash(stand, counter, coins)
        store.app.close_stand(stand)
    with pytest.raises(InvalidInputError):
        store.app.record_deposit("", 0, DAY, [])
    store.app.record_deposit("CRO-77", 7900, DAY, [first, second])
    store.app.record_deposit("CRO-77", 7900, DAY, [second, first])  # resent: no-op
    with pytest.raises(ConflictError):
        store.app.record_deposit("CRO-77", 8000, DAY, [first, second])
    store.runner.catch_up()
    with store.database.reading() as session:
        [line] = reconciliation(session)
    assert (line["counted_cents"], line["deposited_cents"], line["difference_cents"]) == (
        8000, 7900, -100)


def test_a_deposit_needs_closed_stands(store: LedgerStore) -> None:
    stand = open_stand(store)
    with pytest.raises(ConflictError):
        store.app.record_deposit("CRO-1", 100, DAY, [stand])
