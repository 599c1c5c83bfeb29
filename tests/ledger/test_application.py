"""LedgerApplication commands: natural keys make every resend a no-op, never a duplicate."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import LedgerApplication
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.gift import PENDING
from ledger.identity import DonorDetails
from projections.store import LedgerStore
from tests.helpers import figures, gift, start_campaigns

DAY = date(2016, 9, 1)


def test_starting_a_campaign_twice_is_a_no_op_and_a_change_is_a_conflict(
    store: LedgerStore,
) -> None:
    first = store.app.start_campaign("a-b", "A", 100, DAY, DAY)
    assert store.app.start_campaign("a-b", "A", 100, DAY, DAY) == first
    with pytest.raises(ConflictError):
        store.app.start_campaign("a-b", "A", 200, DAY, DAY)


def test_gift_rules_are_checked_together() -> None:
    with pytest.raises(InvalidInputError) as bad:
        gift(
            "k",
            amount=0,
            channel="fax",
            donors=2,
            details=DonorDetails.parse(email="a@example.org"),
        )
    assert set(bad.value.fields) == {"amount", "channel", "donors"}


def test_unknown_campaign_is_not_found(store: LedgerStore) -> None:
    with pytest.raises(NotFoundError):
        store.app.record_gift(gift("k", campaign="missing"))


def test_resent_gift_is_recognised_and_a_changed_one_conflicts(store: LedgerStore) -> None:
    start_campaigns(store)
    assert store.app.record_gift(gift("stripe:pi_1")) is True
    assert store.app.record_gift(gift("stripe:pi_1")) is False
    with pytest.raises(ConflictError):
        store.app.record_gift(gift("stripe:pi_1", amount=999))
    assert figures(store)["raised_cents"] == 1000


def test_a_batch_with_some_resends_records_only_the_new_ones(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gifts([gift(f"k{i}") for i in range(0, 10, 2)])
    outcome = store.app.record_gifts([gift(f"k{i}") for i in range(10)])
    assert (outcome.added, outcome.already_recorded) == (5, 5)
    assert figures(store)["gifts"] == 10


def test_parallel_resends_never_duplicate(store_url: str) -> None:
    stores = [LedgerStore.open(store_url) for _ in range(3)]
    start_campaigns(stores[0])
    gifts = [
        gift(f"same-{i}", details=DonorDetails.parse(email=f"d{i}@example.org")) for i in range(60)
    ]
    with ThreadPoolExecutor(len(stores)) as pool:
        runs = [pool.submit(s.app.record_gifts, gifts) for s in stores]
    outcomes = [run.result() for run in runs]  # a failure in a thread fails the test
    assert sum(o.added for o in outcomes) == 60
    assert sum(o.already_recorded for o in outcomes) == 120
    got = figures(stores[0])
    assert (got["gifts"], got["contacts"], got["raised_cents"]) == (60, 60, 60_000)
    for s in stores:
        s.close()


def test_pending_gift_counts_only_once_confirmed(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gift(
        gift(
            "stripe:pi_sepa",
            status=PENDING,
            method="sepa_debit",
            details=DonorDetails.parse(email="s@example.org"),
        )
    )
    assert (figures(store)["raised_cents"], figures(store)["contacts"]) == (0, 0)
    donation = store.app.find_donation("stripe:pi_sepa")
    assert donation is not None
    donation.confirm_payment(DAY)
    store.app.save(donation)
    assert (figures(store)["raised_cents"], figures(store)["contacts"]) == (1000, 1)


def test_refunds_leave_the_total_once_each_and_never_exceed_the_gift(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gift(gift("stripe:pi_r", amount=5000))
    assert store.app.refund("stripe:pi_r", "re_1", 2000, DAY) is True
    assert store.app.refund("stripe:pi_r", "re_1", 2000, DAY) is False
    with pytest.raises(ConflictError):
        store.app.refund("stripe:pi_r", "re_2", 3001, DAY)
    store.app.record_fee("stripe:pi_r", 100, "stripe")
    got = figures(store)
    assert (got["raised_cents"], got["refunded_cents"], got["fees_cents"], got["net_cents"]) == (
        3000,
        2000,
        100,
        2900,
    )


def test_personal_data_is_sealed_in_the_event_store(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gift(
        gift(
            "k",
            details=DonorDetails.parse(email="segreto@example.org", tax_code="CLMMRA43A53D150K"),
        )
    )
    donation = store.app.find_donation("k")
    assert donation is not None
    stored = store.app.recorder.select_events(donation.id)[0].state
    assert b"segreto" not in stored and b"CLMMRA43A53D150K" not in stored
    details = store.app.details_of(donation)
    assert details is not None and details.email == "segreto@example.org"
    store.app.vault.destroy([donation.id])
    assert store.app.details_of(donation) is None


def test_tokens_authenticate_until_revoked(store: LedgerStore) -> None:
    user = store.app.add_user("Staff@Example.org", "staff", "una-password-lunga")
    token = store.app.issue_token("staff@example.org")
    assert store.app.user_for_token(token) == user
    assert store.app.user_for_token(token[:-1] + "x") is None
    assert store.app.user_for_token("garbage") is None
    assert store.app.authenticate("staff@example.org", "una-password-lunga") == user
    assert store.app.authenticate("staff@example.org", "sbagliata-sbagliata") is None
    assert store.app.revoke_token(token) is True
    assert store.app.user_for_token(token) is None
    assert store.app.revoke_token(token) is False  # already revoked: nothing more to do
    with pytest.raises(NotFoundError):
        store.app.revoke_token("fondo_" + "0" * 32 + "_00000000")


def test_one_key_twice_with_other_figures_in_one_batch_is_a_conflict_and_saves_nothing(
    store: LedgerStore,
) -> None:
    start_campaigns(store)
    head = store.app.recorder.max_notification_id()
    batch = [
        gift("k1"),
        gift("stripe:pi_2", amount=2500),
        gift("k3"),
        gift("stripe:pi_2", amount=2600),
    ]
    with pytest.raises(ConflictError, match="pi_2"):
        store.app.record_gifts(batch)
    assert store.app.recorder.max_notification_id() == head
    assert figures(store)["raised_cents"] == 0


def test_one_key_twice_with_the_same_figures_in_one_batch_is_one_gift(store: LedgerStore) -> None:
    start_campaigns(store)
    outcome = store.app.record_gifts([gift("k1", amount=700), gift("k2"), gift("k1", amount=700)])
    assert (outcome.added, outcome.already_recorded) == (2, 1)
    assert figures(store)["raised_cents"] == 1700
    assert figures(store)["gifts"] == 2


@pytest.mark.parametrize(
    "other",
    [
        {"value_date": date(2016, 9, 2)},
        {"channel": "bank", "method": "bank_transfer"},
        {"donors": 3},
        {"campaign": "fare-legami-anno-1"},
    ],
)
def test_any_other_figure_under_the_same_key_in_one_batch_conflicts(
    store: LedgerStore, other: dict[str, object]
) -> None:
    start_campaigns(store)
    with pytest.raises(ConflictError):
        store.app.record_gifts([gift("k1"), gift("k1", **other)])
    assert store.app.find_donation("k1") is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from([1000, 1000, 1000, 2500])),
        min_size=1,
        max_size=12,
    )
)
def test_a_batch_is_either_all_its_distinct_gifts_or_a_conflict(
    entries: list[tuple[int, int]],
) -> None:
    app = LedgerApplication()
    app.start_campaign("fare-legami-anni-2-3", "Anni 2-3", 0)
    amounts: dict[int, set[int]] = {}
    for key, amount in entries:
        amounts.setdefault(key, set()).add(amount)
    batch = [gift(f"k{key}", amount=amount) for key, amount in entries]
    if any(len(given_amounts) > 1 for given_amounts in amounts.values()):
        with pytest.raises(ConflictError):
            app.record_gifts(batch)
        assert all(app.find_donation(f"k{key}") is None for key in amounts)
        return
    outcome = app.record_gifts(batch)
    assert (outcome.added, outcome.already_recorded) == (len(amounts), len(entries) - len(amounts))
    for key, (amount,) in amounts.items():
        donation = app.find_donation(f"k{key}")
        assert donation is not None and donation.amount_cents == amount
