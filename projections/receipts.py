"""The receipts read model: every number of every year's book, and the gifts still to receipt."""

from typing import Any

from ledger.errors import InvalidInputError, NotFoundError
from ledger.identity import normalize_email, normalize_tax_code
from ledger.receipt_book import ISSUED, VOID, ReceiptBook, receipt_number
from projections.database import Session
from projections.runner import Projection

COLUMNS = (
    "number",
    "year",
    "sequence",
    "status",
    "donation_id",
    "source_key",
    "campaign",
    "amount_cents",
    "method",
    "value_date",
    "issued_on",
    "deductibility",
    "void_reason",
)


class ReceiptsView(Projection):
    """No personal data here: the donor is joined from the registry when listing."""

    name = "receipts"
    version = 1
    tables = ("receipts_view", "receipt_books")
    handles = (ReceiptBook.Opened, ReceiptBook.ReceiptIssued, ReceiptBook.ReceiptVoided)

    def create_tables(self, session: Session) -> None:
        session.execute("""CREATE TABLE receipt_books (
            book_id TEXT PRIMARY KEY,
            year INTEGER NOT NULL
        )""")
        session.execute("""CREATE TABLE receipts_view (
            number TEXT PRIMARY KEY,
            year INTEGER NOT NULL,
            sequence INTEGER NOT NULL,
            status TEXT NOT NULL,
            donation_id TEXT NOT NULL,
            source_key TEXT NOT NULL,
            campaign TEXT NOT NULL,
            amount_cents BIGINT NOT NULL,
            method TEXT NOT NULL,
            value_date TEXT NOT NULL,
            issued_on TEXT NOT NULL,
            deductibility TEXT NOT NULL,
            void_reason TEXT NOT NULL DEFAULT ''
        )""")
        session.execute("CREATE INDEX receipts_view_year ON receipts_view (year, sequence)")
        session.execute("CREATE INDEX receipts_view_donation ON receipts_view (donation_id)")

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, ReceiptBook.Opened):
            session.execute(
                "INSERT INTO receipt_books (book_id, year) VALUES (?, ?)",
                (str(event.originator_id), event.year),
            )
        elif isinstance(event, ReceiptBook.ReceiptIssued):
            year = self._year(session, event)
            session.execute(
                f"INSERT INTO receipts_view ({', '.join(COLUMNS[:-1])}) "
                f"VALUES ({', '.join('?' * (len(COLUMNS) - 1))})",
                (
                    receipt_number(year, event.sequence),
                    year,
                    event.sequence,
                    ISSUED,
                    str(event.donation_id),
                    event.source_key,
                    event.campaign,
                    event.amount_cents,
                    event.method,
                    event.value_date.isoformat(),
                    event.issued_on.isoformat(),
                    event.deductibility,
                ),
            )
        elif isinstance(event, ReceiptBook.ReceiptVoided):
            session.execute(
                "UPDATE receipts_view SET status = ?, void_reason = ? WHERE number = ?",
                (VOID, event.reason, receipt_number(self._year(session, event), event.sequence)),
            )

    def _year(self, session: Session, event: Any) -> int:
        return int(
            session.scalar(
                "SELECT year FROM receipt_books WHERE book_id = ?", (str(event.originator_id),)
            )
        )


_LIST = ", ".join(f"r.{c}" for c in COLUMNS)


def list_receipts(session: Session, year: int, status: str | None = None) -> list[dict[str, Any]]:
    """The year's book in number order, with the donor as the registry knows them now
    (blank once erased)."""
    condition = " AND r.status = ?" if status else ""
    rows = session.query(
        f"SELECT {_LIST}, COALESCE(d.display_name, ''), COALESCE(d.tax_code, ''), "
        "COALESCE(d.email, ''), COALESCE(g.donor_id, '') FROM receipts_view r "
        "LEFT JOIN registry_gifts g ON g.donation_id = r.donation_id "
        "LEFT JOIN registry_donors d ON d.donor_id = g.donor_id "
        f"WHERE r.year = ?{condition} ORDER BY r.sequence",
        (year, status) if status else (year,),
    )
    names = (*COLUMNS, "donor", "tax_code", "email", "donor_id")
    return [dict(zip(names, row, strict=True)) for row in rows]


def receipt_years(session: Session) -> list[int]:
    return [
        int(row[0])
        for row in session.query("SELECT DISTINCT year FROM receipts_view ORDER BY year DESC")
    ]


def receipts_of_gift(session: Session, donation_id: str) -> list[dict[str, Any]]:
    rows = session.query(
        f"SELECT {_LIST} FROM receipts_view r WHERE r.donation_id = ? ORDER BY r.year, r.sequence",
        (donation_id,),
    )
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


# What a gift's donor gave and the foundation kept: its amount less refunds and less disputes
# lost to a chargeback (money_movements holds the lost disputes, `dispute_lost`).
_LOST = (
    "LEFT JOIN (SELECT donation_id, SUM(amount_cents) AS cents FROM money_movements "
    "WHERE kind = 'dispute_lost' GROUP BY donation_id) lost ON lost.donation_id = g.donation_id"
)
_KEPT = "g.amount_cents - g.refunded_cents - COALESCE(lost.cents, 0)"


def gifts_to_receipt(session: Session, year: int) -> list[str]:
    """Source keys of the year's identified, confirmed gifts with no receipt in force,
    by value date: the batch gives them numbers in the order people gave."""
    rows = session.query(
        f"SELECT g.source_key FROM gifts_view g {_LOST} WHERE g.identified = 1 "
        f"AND g.people = 1 AND g.status = 'confirmed' AND {_KEPT} > 0 "
        "AND g.value_date >= ? AND g.value_date <= ? AND NOT EXISTS (SELECT 1 FROM "
        "receipts_view r WHERE r.donation_id = g.donation_id AND r.status = ?) "
        "ORDER BY g.value_date, g.source_key",
        (f"{year:04d}-01-01", f"{year:04d}-12-31", ISSUED),
    )
    return [row[0] for row in rows]


def find_donor(session: Session, text: str) -> str:
    """The registry id of the donor with this tax code or e-mail."""
    try:
        key = f"email:{normalize_email(text)}" if "@" in text else f"tax:{normalize_tax_code(text)}"
    except InvalidInputError:
        raise InvalidInputError(
            f"not a tax code nor an e-mail: {text!r}",
            {"donor": ["codice fiscale, partita IVA o e-mail"]},
        ) from None
    donor_id = session.scalar("SELECT donor_id FROM registry_keys WHERE identity_key = ?", (key,))
    if donor_id is None:
        raise NotFoundError(f"no donor with {text.strip()!r} in the registry")
    return str(donor_id)


def donor_gift_ids(session: Session, donor_id: str, year: int) -> list[str]:
    return [
        row[0]
        for row in session.query(
            "SELECT donation_id FROM registry_gifts WHERE donor_id = ? AND value_date >= ? "
            "AND value_date <= ? ORDER BY value_date",
            (donor_id, f"{year:04d}-01-01", f"{year:04d}-12-31"),
        )
    ]


def is_registry_id(session: Session, text: str) -> bool:
    return session.one("SELECT 1 FROM registry_donors WHERE donor_id = ?", (text,)) is not None


def receipts_out_of_date(session: Session, year: int) -> list[str]:
    """Receipts in force whose gift no longer holds their amount: refunded or lost in a
    dispute (by Stripe, which cannot be refused) after the receipt was issued."""
    return [
        row[0]
        for row in session.query(
            "SELECT r.number FROM receipts_view r JOIN gifts_view g ON g.donation_id = "
            f"r.donation_id {_LOST} WHERE r.year = ? AND r.status = ? AND "
            f"{_KEPT} <> r.amount_cents ORDER BY r.sequence",
            (year, ISSUED),
        )
    ]
