"""The receipt book's rules in memory: one receipt in force per gift, consecutive numbers, voids
that keep their number, the year's book; and which gifts the receipt commands receipt."""

import uuid
from datetime import date

import pytest

from ledger.application import LedgerApplication
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.gift import PENDING
from ledger.identity import DonorDetails
from ledger.receipt_book import DEDUCTIBLE, NO_STATEMENT, VOID, ReceiptBook, ReceiptEntry
from ledger.receipts import Receipts
from tests.helpers import SLUG, named_gift

ISSUED_ON = date(2017, 2, 1)


def issue(
    book: ReceiptBook, gift_id: uuid.UUID, amount: int = 5000, on: date = date(2016, 9, 1)
) -> ReceiptEntry:
    return book.issue(gift_id, "k", SLUG, amount, "card", on, ISSUED_ON, DEDUCTIBLE, None)


def test_a_gift_has_one_receipt_in_force_and_numbers_follow_each_other() -> None:
    book = ReceiptBook(2016)
    first, second = uuid.uuid4(), uuid.uuid4()
    assert issue(book, first).number == "2016/000001"
    assert issue(book, first, amount=9999) == book.entry(1)  # the receipt in force, unchanged
    assert issue(book, second).number == "2016/000002"
    assert [type(e) for e in book.collect_events()] == [
        ReceiptBook.Opened,
        ReceiptBook.ReceiptIssued,
        ReceiptBook.ReceiptIssued,
    ]


def test_a_book_takes_only_its_own_years_gifts_with_something_left_to_receipt() -> None:
    book = ReceiptBook(2016)
    with pytest.raises(ConflictError, match="that year's book"):
        issue(book, uuid.uuid4(), on=date(2017, 1, 1))
    for nothing in (0, -100):
        with pytest.raises(ConflictError, match="refunded"):
            issue(book, uuid.uuid4(), amount=nothing)
    assert book.entries == []


def test_a_void_keeps_its_number_says_why_and_the_gift_is_receipted_anew() -> None:
    book = ReceiptBook(2016)
    gift_id = uuid.uuid4()
    issue(book, gift_id)
    with pytest.raises(InvalidInputError) as no_reason:
        book.void(1, "  ", "staff", ISSUED_ON)
    assert no_reason.value.fields == {"reason": ["required"]}
    for missing in (0, 2):
        with pytest.raises(NotFoundError):
            book.void(missing, "errore", "staff", ISSUED_ON)
    assert book.void(1, " importo sbagliato ", "staff", ISSUED_ON)
    assert not book.void(1, "di nuovo", "staff", ISSUED_ON)
    assert (book.entry(1).status, book.entry(1).void_reason) == (VOID, "importo sbagliato")
    assert book.receipt_for(gift_id) is None
    assert issue(book, gift_id, amount=3000).number == "2016/000002"
    assert book.receipt_for(gift_id) == book.entry(2)


# Through the receipt commands, on the in-memory store


@pytest.fixture
def app(memory_app: LedgerApplication) -> LedgerApplication:
    memory_app.start_campaign(SLUG, "Fare Legami", 0, date(2015, 7, 1), date(2017, 6, 30))
    return memory_app


def test_only_confirmed_gifts_of_one_known_person_with_money_left_are_receipted(
    app: LedgerApplication,
) -> None:
    app.record_gifts(
        [
            named_gift("named"),
            named_gift("anonymous", details=DonorDetails(), privacy_consent=False),
            named_gift("pending", status=PENDING, method="sepa_debit"),
            named_gift("refunded"),
            named_gift("erased"),
            named_gift("partly"),
            named_gift("last-year", value_date=date(2015, 12, 31)),
        ]
    )
    app.refund("refunded", "re_1", 5000, date(2016, 9, 2))
    app.refund("partly", "re_2", 1500, date(2016, 9, 2))
    erased = app.find_donation("erased")
    assert erased is not None and app.vault.destroy([erased.id]) == 1
    receipts = Receipts(app)
    keys = ["named", "anonymous", "pending", "refunded", "erased", "partly", "last-year"]
    outcome = receipts.issue(keys, ISSUED_ON)
    assert outcome.issued == ["2015/000001", "2016/000001", "2016/000002"]
    assert outcome.skipped == {
        "anonymous": "anonymous gift: no receipt",
        "pending": "payment pending: no receipt until it is confirmed",
        "refunded": "refunded in full",
        "erased": "the donor's personal data was erased",
    }
    assert receipts.document("2016/000002").amount_cents == 3500  # net of the refund
    assert receipts.document("2016/000001").deductibility == NO_STATEMENT  # no tax code
    again = receipts.issue(keys, ISSUED_ON)
    assert (again.issued, again.already) == ([], 3)
    with pytest.raises(NotFoundError):
        receipts.issue(["never-recorded"], ISSUED_ON)


def test_a_receipt_is_voided_once_and_an_unknown_number_is_not_found(
    app: LedgerApplication,
) -> None:
    app.record_gift(named_gift("a"))
    receipts = Receipts(app)
    with pytest.raises(NotFoundError):
        receipts.void("2016/000001", "errore", "staff", ISSUED_ON)
    receipts.issue(["a"], ISSUED_ON)
    with pytest.raises(InvalidInputError):
        receipts.void("2016-1", "errore", "staff", ISSUED_ON)
    with pytest.raises(NotFoundError):
        receipts.void("2016/000002", "errore", "staff", ISSUED_ON)
    assert receipts.void("2016/000001", "errore", "staff", ISSUED_ON)
    assert not receipts.void("2016/000001", "errore", "staff", ISSUED_ON)
    recorded = app.find_donation("a")
    assert recorded is not None and receipts.in_force(2016, [recorded.id]) == []
    [number] = receipts.issue(["a"], ISSUED_ON).issued
    assert [d.number for d in receipts.in_force(2016, [recorded.id])] == [number]
