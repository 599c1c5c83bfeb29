"""The receipt book: gapless numbers per year, voids keep their number, erasure keeps the book."""

import threading
import uuid
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.csv_import import import_donations
from ledger.errors import ConflictError, InvalidInputError
from ledger.gift import PENDING, Gift
from ledger.identity import DonorDetails
from ledger.receipt_book import (
    DEDUCTIBLE,
    NO_STATEMENT,
    NOT_DEDUCTIBLE,
    ReceiptBook,
    deductibility,
    parse_receipt_number,
    receipt_number,
)
from ledger.receipts import Receipts
from projections import receipts as receipts_view
from projections import registry
from projections.store import LedgerStore
from tests.helpers import YEAR1, start_campaigns

ISSUED_ON = date(2017, 2, 1)


def gift(
    key: str, amount: int = 5000, on: date = date(2016, 9, 1), method: str = "card", **details: str
) -> Gift:
    who = details or {
        "first_name": "Maria",
        "last_name": "Colombo",
        "email": f"{key.replace(':', '-')}@example.org",
    }
    return Gift(
        source_key=key,
        campaign="fare-legami-anni-2-3",
        amount_cents=amount,
        value_date=on,
        channel="online" if method != "cash" else "stand",
        method=method,
        details=DonorDetails.parse(**who),
        privacy_consent=True,
    )


def book_numbers(store: LedgerStore, year: int) -> list[str]:
    store.runner.catch_up()
    with store.database.reading() as session:
        return [r["number"] for r in receipts_view.list_receipts(session, year)]


def test_numbers_read_year_slash_six_digits_and_parse_back() -> None:
    assert receipt_number(2016, 12) == "2016/000012"
    assert parse_receipt_number(" 2016/12 ") == (2016, 12)
    for bad in ("2016-000012", "2016/0", "16/1", "", "2016/1234567"):
        with pytest.raises(InvalidInputError):
            parse_receipt_number(bad)


@given(st.lists(st.tuples(st.sampled_from(["issue", "void"]), st.integers(0, 9)), max_size=40))
@settings(max_examples=60, deadline=None)
def test_any_mix_of_issues_and_voids_keeps_numbers_consecutive(
    steps: list[tuple[str, int]],
) -> None:
    book = ReceiptBook(2016)
    gifts = [uuid.uuid4() for _ in range(10)]
    for action, which in steps:
        if action == "issue":
            book.issue(
                gifts[which],
                f"k{which}",
                "c",
                100,
                "card",
                date(2016, 1, 1),
                ISSUED_ON,
                DEDUCTIBLE,
                None,
            )
        elif book.entries:
            book.void(which % len(book.entries) + 1, "errore", "staff", ISSUED_ON)
    assert [e.sequence for e in book.entries] == list(range(1, len(book.entries) + 1))
    live = [e.donation_id for e in book.entries if e.status == "issued"]
    assert len(live) == len(set(live))  # at most one receipt in force per gift
    assert len(book.entries) == len({e.number for e in book.entries})


def test_deductibility_follows_the_method_and_the_tax_code() -> None:
    assert deductibility("card", "CLMMRA43A53D150K") == DEDUCTIBLE
    assert deductibility("bank_transfer", "01234567897") == DEDUCTIBLE
    assert deductibility("cash", "CLMMRA43A53D150K") == NOT_DEDUCTIBLE
    assert deductibility("card", None) == NO_STATEMENT
    assert deductibility("cash", "") == NO_STATEMENT


def test_batch_for_year_receipts_every_identified_gift_once(store: LedgerStore) -> None:
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    store.runner.catch_up()
    with store.database.reading() as session:
        keys = receipts_view.gifts_to_receipt(session, 2015)
        identified_2015 = session.scalar(
            "SELECT COUNT(*) FROM gifts_view WHERE identified = 1 AND people = 1 AND "
            "value_date LIKE ?",
            ("2015-%",),
        )
        tallies = session.scalar("SELECT COUNT(*) FROM gifts_view WHERE people > 1")
    assert len(keys) == identified_2015 > 0 and tallies > 0
    seen: list[int] = []
    outcome = Receipts(store.app).issue(keys, ISSUED_ON, progress=seen.append)
    assert len(outcome.issued) == identified_2015 and outcome.skipped == {}
    assert seen[-1] == identified_2015
    numbers = book_numbers(store, 2015)
    assert numbers == [receipt_number(2015, n) for n in range(1, identified_2015 + 1)]
    again = Receipts(store.app).issue(keys, ISSUED_ON)
    assert (again.issued, again.already) == ([], identified_2015)
    with store.database.reading() as session:
        assert receipts_view.gifts_to_receipt(session, 2015) == []


def test_anonymous_pending_and_unknown_gifts_get_no_receipt(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gifts(
        [
            Gift(
                source_key="tally",
                campaign="fare-legami-anni-2-3",
                amount_cents=3000,
                value_date=date(2016, 9, 1),
                channel="stand",
                method="cash",
                donors=6,
            ),
            Gift(
                source_key="sepa",
                campaign="fare-legami-anni-2-3",
                amount_cents=1000,
                value_date=date(2016, 9, 1),
                channel="online",
                method="sepa_debit",
                status=PENDING,
                details=DonorDetails.parse(email="s@example.org"),
            ),
        ]
    )
    outcome = Receipts(store.app).issue(["tally", "sepa"], ISSUED_ON)
    assert outcome.issued == [] and set(outcome.skipped) == {"tally", "sepa"}
    assert book_numbers(store, 2016) == []


def test_void_keeps_the_number_and_the_gift_is_receipted_anew(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gifts([gift("a"), gift("b")])
    receipts = Receipts(store.app)
    assert receipts.issue(["a", "b"], ISSUED_ON).issued == ["2016/000001", "2016/000002"]
    assert receipts.void("2016/000001", "importo sbagliato", "staff@example.org", ISSUED_ON)
    assert not receipts.void("2016/000001", "di nuovo", "staff@example.org", ISSUED_ON)
    assert receipts.issue(["a"], ISSUED_ON).issued == ["2016/000003"]
    store.runner.catch_up()
    with store.database.reading() as session:
        rows = receipts_view.list_receipts(session, 2016)
    assert [(r["number"], r["status"], r["void_reason"], r["source_key"]) for r in rows] == [
        ("2016/000001", "void", "importo sbagliato", "a"),
        ("2016/000002", "issued", "", "b"),
        ("2016/000003", "issued", "", "a"),
    ]
    with pytest.raises(InvalidInputError):
        receipts.void("2016/000002", "  ", "staff@example.org", ISSUED_ON)


def test_a_receipted_gift_is_refunded_or_corrected_only_after_its_void(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gift(gift("a", amount=5000))
    receipts = Receipts(store.app)
    receipts.issue(["a"], ISSUED_ON)
    with pytest.raises(ConflictError, match="2016/000001"):
        store.app.refund("a", "manual:1", 2000, date(2016, 10, 1), "errore")
    with pytest.raises(ConflictError, match="2016/000001"):
        store.app.correct_gift("a", 4000, date(2016, 9, 1), "errore di battitura", "staff")
    receipts.void("2016/000001", "rimborso parziale", "staff", ISSUED_ON)
    assert store.app.refund("a", "manual:1", 2000, date(2016, 10, 1), "errore")
    assert receipts.issue(["a"], ISSUED_ON).issued == ["2016/000002"]
    assert receipts.document("2016/000002").amount_cents == 3000
    assert receipts.document("2016/000001").amount_cents == 5000


def test_erasure_shreds_the_receipt_donor_and_keeps_number_and_amount(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.record_gifts(
        [
            gift(
                "a",
                amount=2500,
                email="maria@example.org",
                first_name="Maria",
                last_name="Colombo",
                tax_code="CLMMRA43A53D150K",
            ),
            gift("b", amount=7000),
        ]
    )
    receipts = Receipts(store.app)
    receipts.issue(["a", "b"], ISSUED_ON)
    before = receipts.document("2016/000001")
    assert before.donor is not None and before.donor.tax_code == "CLMMRA43A53D150K"
    store.runner.catch_up()
    with store.database.reading() as session:
        donor_id = receipts_view.find_donor(session, "clmmra43a53d150k")
        donations, has_tax_code, last = registry.erasure_facts(session, donor_id)
    store.app.erase_donor(
        uuid.UUID(donor_id),
        [uuid.UUID(d) for d in donations],
        has_tax_code,
        date.fromisoformat(last),
        "richiesta",
        "admin",
        force=True,
        today=date(2017, 3, 1),
    )
    after = receipts.document("2016/000001")
    assert after.donor is None
    assert (after.number, after.amount_cents, after.deductibility) == (
        "2016/000001",
        2500,
        DEDUCTIBLE,
    )
    assert book_numbers(store, 2016) == ["2016/000001", "2016/000002"]
    store.runner.rebuild()
    assert book_numbers(store, 2016) == ["2016/000001", "2016/000002"]
    assert receipts.document("2016/000002").donor is not None


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_concurrent_issuers_leave_no_gap_and_no_duplicate(postgres_url: str) -> None:
    stores = [LedgerStore.open(postgres_url) for _ in range(8)]
    try:
        start_campaigns(stores[0])
        keys = [f"k{n}" for n in range(80)]
        stores[0].app.record_gifts([gift(key) for key in keys])
        errors: list[BaseException] = []

        def issuer(store: LedgerStore, mine: list[str]) -> None:
            try:
                receipts = Receipts(store.app)
                for key in mine:  # one at a time: the most contention there can be
                    receipts.issue([key], ISSUED_ON)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        # Every issuer receipts its own ten gifts and races the others for the numbers;
        # half of them also try every gift of their neighbour.
        threads = [
            threading.Thread(
                target=issuer,
                args=(
                    store,
                    keys[i * 10 : (i + 1) * 10]
                    + (keys[((i + 1) % 8) * 10 : ((i + 2) % 8 or 8) * 10] if i % 2 else []),
                ),
            )
            for i, store in enumerate(stores)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        stores[0].runner.catch_up()
        with stores[0].database.reading() as session:
            rows = receipts_view.list_receipts(session, 2016)
        assert [r["number"] for r in rows] == [receipt_number(2016, n) for n in range(1, 81)]
        assert sorted(r["source_key"] for r in rows) == sorted(keys)
    finally:
        for store in stores:
            store.close()
