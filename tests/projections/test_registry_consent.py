"""Consent follows time: the registry keeps the consent given most recently by its own date."""

import uuid
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.gift import Gift
from ledger.identity import DonorDetails
from projections import registry
from projections.store import LedgerStore
from tests.helpers import add_campaigns, row, start_campaigns, write_csv
from web.cli import main

# (is a change staff recorded, date, privacy, marketing); a gift's date is its value date.
Fact = tuple[bool, date, bool, bool]

facts = st.tuples(
    st.booleans(), st.dates(date(2016, 9, 1), date(2016, 9, 6)), st.booleans(), st.booleans()
)


def model(given_facts: list[Fact]) -> tuple[int, int, str]:
    """Independent of the projection: the latest by date; on one day a staff change before a
    gift's form, then a withdrawal before a grant."""
    change, on, privacy, marketing = max(
        given_facts, key=lambda f: (f[1], f[0], not f[3], not f[2])
    )
    return int(privacy), int(marketing), on.isoformat()


def consent_of(store: LedgerStore, email: str) -> tuple[int, int, str]:
    store.runner.catch_up()
    with store.database.reading() as session:
        [entry] = registry.search_donors(session, email)
    return entry["privacy_consent"], entry["marketing_consent"], entry["consent_on"]


def record(store: LedgerStore, email: str, ordered: list[Fact]) -> None:
    """The first fact is always a gift (a registry entry begins with one)."""
    donor_id = None
    for index, (change, on, privacy, marketing) in enumerate(ordered):
        if change and donor_id is not None:
            store.app.change_consent(
                donor_id, privacy, marketing, "modulo firmato", on, "staff@example.org"
            )
            continue
        store.app.record_gift(
            Gift(
                source_key=f"consent:{email}:{index}",
                campaign="fare-legami-anni-2-3",
                amount_cents=1000,
                value_date=on,
                channel="online",
                method="card",
                details=DonorDetails.parse(email=email),
                privacy_consent=privacy,
                marketing_consent=marketing,
            )
        )
        if donor_id is None:
            store.runner.catch_up()
            with store.database.reading() as session:
                [entry] = registry.search_donors(session, email)
            donor_id = uuid.UUID(entry["donor_id"])


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=facts.map(lambda f: (False, *f[1:])), rest=st.lists(facts, max_size=5), data=st.data())
def test_any_order_of_the_same_consent_facts_gives_the_same_consent(
    store: LedgerStore, first: Fact, rest: list[Fact], data: st.DataObject
) -> None:
    start_campaigns(store)  # a no-op after the first example
    shuffled = data.draw(st.permutations(rest))
    in_order, other_order = (f"{uuid.uuid4().hex[:12]}@example.org" for _ in range(2))
    record(store, in_order, [first, *rest])
    record(store, other_order, [first, *shuffled])
    assert consent_of(store, in_order) == consent_of(store, other_order) == model([first, *rest])


def test_an_older_row_imported_after_a_withdrawal_does_not_bring_marketing_back(
    cli: CliRunner, store_url: str, tmp_path: Path
) -> None:
    add_campaigns(cli)

    def give(reference: str, day: str, email: str) -> None:
        path = write_csv(
            tmp_path,
            row(
                date=day,
                email=email,
                first_name="Anna",
                privacy_consent="sì",
                marketing_consent="sì",
                reference=reference,
            ),
            name=f"{reference}.csv",
        )
        result = cli.invoke(main, ["import", "donations", str(path)])
        assert result.exit_code == 0, result.output

    def newsletter() -> str:
        out = tmp_path / "newsletter.csv"
        result = cli.invoke(main, ["export", "donors", "--marketing-only", "--out", str(out)])
        assert result.exit_code == 0, result.output
        return out.read_text(encoding="utf-8-sig")

    give("A-1", "01/09/2016", "anna@example.org")
    give("B-1", "01/09/2016", "bruno@example.org")
    store = LedgerStore.open(store_url)
    try:
        with store.database.reading() as session:
            [anna] = registry.search_donors(session, "anna@example.org")
        store.app.change_consent(
            uuid.UUID(anna["donor_id"]),
            True,
            False,
            "e-mail di revoca",
            date(2016, 12, 1),
            "staff@example.org",
        )
        give("A-2", "15/10/2016", "anna@example.org")  # older than the withdrawal
        assert consent_of(store, "anna@example.org") == (1, 0, "2016-12-01")
        assert "anna@example.org" not in newsletter()
        assert "bruno@example.org" in newsletter()
        give("A-3", "10/01/2017", "anna@example.org")  # she subscribes again, later
        assert consent_of(store, "anna@example.org") == (1, 1, "2017-01-10")
        assert "anna@example.org" in newsletter()
    finally:
        store.close()


def test_merged_donors_keep_the_latest_consent_of_either(store: LedgerStore) -> None:
    start_campaigns(store)
    record(store, "later@example.org", [(False, date(2016, 11, 1), True, True)])
    record(store, "earlier@example.org", [(False, date(2016, 10, 1), True, False)])
    with store.database.reading() as session:
        [later] = registry.search_donors(session, "later@example.org")
        [earlier] = registry.search_donors(session, "earlier@example.org")
    store.app.merge_donors(
        uuid.UUID(later["donor_id"]), uuid.UUID(earlier["donor_id"]), "staff@example.org"
    )
    assert consent_of(store, "earlier@example.org") == (1, 1, "2016-11-01")
