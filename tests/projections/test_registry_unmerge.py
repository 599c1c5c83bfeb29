"""A merge undone by its compensating event leaves the registry as if it had never happened."""

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import ConflictError
from ledger.gift import Gift
from ledger.identity import DonorDetails
from projections.reports import progress
from projections.store import LedgerStore

REGISTRY = (
    "registry_donors",
    "registry_keys",
    "registry_gifts",
    "registry_aliases",
    "registry_consents",
)
SLUG = "fare-legami-anni-2-3"

contact = st.tuples(
    st.sampled_from(["Anna", "Luca", "Marta", ""]),
    st.sampled_from(["Rossi", "Bianchi", "Ferrari"]),
    st.sampled_from([None, "anna@example.org", "luca@example.org", "m.f@example.org"]),
    st.sampled_from([None, "+393331234567", "3401112223"]),
    st.sampled_from(["", "01100", "26100"]),
    st.booleans(),
    st.integers(min_value=0, max_value=300),
)


def record(store: LedgerStore, gifts: list[tuple[Any, ...]]) -> None:
    for first, last, email, phone, postcode, marketing, day in gifts:
        store.app.record_gift(
            Gift(
                source_key=f"bank:{uuid.uuid4().hex}",
                campaign=SLUG,
                amount_cents=1000 + day,
                value_date=date(2016, 9, 1) + timedelta(days=day),
                channel="bank",
                method="bank_transfer",
                details=DonorDetails(
                    first_name=first,
                    last_name=last,
                    email=email,
                    # A gift with no e-mail and no phone is identified by its postal address.
                    phone=phone if phone or email else "+390372000000",
                    address="Via Roma 1" if postcode else "",
                    postcode=postcode,
                    city="Cremona",
                ),
                privacy_consent=True,
                marketing_consent=marketing,
            )
        )
    store.runner.catch_up()


def registry_state(store: LedgerStore) -> dict[str, Any]:
    with store.database.reading() as session:
        tables = {t: sorted(session.query(f"SELECT * FROM {t}"), key=repr) for t in REGISTRY}
    figures = progress(store.database, SLUG, date(2030, 1, 1))[0]
    return {**tables, "donors": figures["donors"], "contacts": figures["contacts"]}


def donor_ids(store: LedgerStore) -> list[str]:
    with store.database.reading() as session:
        return [
            row[0]
            for row in session.query("SELECT donor_id FROM registry_donors ORDER BY first_position")
        ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    gifts=st.lists(contact, min_size=2, max_size=9),
    picks=st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)),
    earlier_merge=st.booleans(),
)
def test_merge_then_unmerge_is_never_merged(
    tmp_path_factory: pytest.TempPathFactory,
    gifts: list[tuple[Any, ...]],
    picks: tuple[int, int, int],
    earlier_merge: bool,
) -> None:
    path: Path = tmp_path_factory.mktemp("unmerge") / "ledger.sqlite3"
    store = LedgerStore.open(f"sqlite:///{path}")
    try:
        store.app.start_campaign(SLUG, "Anni 2 e 3", 33_600_000)
        record(store, gifts)
        ids = donor_ids(store)
        if earlier_merge and len(ids) >= 3:
            # A merge that stays: the entry merged below already carries an alias.
            kept = ids.pop(picks[2] % len(ids))
            into = ids[picks[0] % len(ids)]
            store.app.merge_donors(uuid.UUID(kept), uuid.UUID(into), "staff")
            store.runner.catch_up()
        if len(ids) < 2:
            return
        merged = ids[picks[0] % len(ids)]
        others = [i for i in ids if i != merged]
        survivor = others[picks[1] % len(others)]
        before = registry_state(store)

        store.app.merge_donors(uuid.UUID(merged), uuid.UUID(survivor), "staff")
        store.runner.catch_up()
        joined = registry_state(store)
        assert len(joined["registry_donors"]) == len(before["registry_donors"]) - 1
        assert joined["contacts"] <= before["contacts"]

        assert store.app.unmerge_donors(uuid.UUID(merged), "staff") == uuid.UUID(survivor)
        store.runner.catch_up()
        assert registry_state(store) == before
        with pytest.raises(ConflictError):  # undone once; a second undo has nothing to undo
            store.app.unmerge_donors(uuid.UUID(merged), "staff")
    finally:
        store.close()


def test_a_merge_into_an_erased_donor_cannot_be_undone(sqlite_url: str) -> None:
    store = LedgerStore.open(sqlite_url)
    try:
        store.app.start_campaign(SLUG, "Anni 2 e 3", 33_600_000)
        record(
            store,
            [
                ("Anna", "Rossi", "anna@example.org", None, "", True, 1),
                ("Luca", "Bianchi", "luca@example.org", None, "", False, 2),
            ],
        )
        first, second = donor_ids(store)
        store.app.merge_donors(uuid.UUID(second), uuid.UUID(first), "staff")
        store.runner.catch_up()
        with store.database.reading() as session:
            donations = [r[0] for r in session.query("SELECT donation_id FROM registry_gifts")]
        store.app.erase_donor(
            uuid.UUID(first), [uuid.UUID(d) for d in donations], False, None, "richiesta", "a"
        )
        with pytest.raises(ConflictError):
            store.app.unmerge_donors(uuid.UUID(second), "staff")
    finally:
        store.close()
