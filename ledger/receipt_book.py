"""ReceiptBook: one per calendar year, numbering the receipts of that year's gifts without gaps."""

import re
from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.keys import natural_id
from ledger.texts import N_

ISSUED, VOID = "issued", "void"
# What the receipt may say about the donor's tax benefit (D.Lgs. 117/2017 art. 83).
DEDUCTIBLE, NOT_DEDUCTIBLE, NO_STATEMENT = "deductible", "not_deductible", "none"
# Italian law grants the benefit only on traceable payments: cash is the one method that is not.
UNTRACEABLE_METHODS = ("cash",)

_NUMBER = re.compile(r"\s*(\d{4})\s*/\s*(\d{1,6})\s*")


def receipt_number(year: int, sequence: int) -> str:
    """`2016/000012`: the year of the book and the receipt's place in it."""
    return f"{year:04d}/{sequence:06d}"


def parse_receipt_number(text: str) -> tuple[int, int]:
    """`2016/000012` or `2016/12` → (2016, 12); anything else is invalid input."""
    match = _NUMBER.fullmatch(text or "")
    if not match or int(match.group(2)) < 1:
        raise InvalidInputError(
            N_("not a receipt number (YYYY/NNNNNN): %(text)r", text=text),
            {"number": [N_("YYYY/NNNNNN, e.g. 2016/000012")]},
        )
    return int(match.group(1)), int(match.group(2))


def deductibility(method: str, tax_code: str | None) -> str:
    """Which statement the receipt carries: none without a tax code (the donor cannot claim
    anything), "not deductible" for cash, "deductible" for every traceable payment."""
    if not tax_code:
        return NO_STATEMENT
    return NOT_DEDUCTIBLE if method in UNTRACEABLE_METHODS else DEDUCTIBLE


@dataclass(frozen=True)
class ReceiptEntry:
    """One line of the book as the aggregate keeps it (personal data stays sealed)."""

    number: str
    sequence: int
    donation_id: UUID
    source_key: str
    campaign: str
    amount_cents: int
    method: str
    value_date: date
    issued_on: date
    deductibility: str
    sealed_donor: str | None
    status: str = ISSUED
    void_reason: str = ""


class ReceiptBook(Aggregate):
    """Receipts of one year's gifts. Numbers come from the book's own count, so two issuers
    who read the same count clash on the aggregate's version and one retries: no gap, no
    duplicate. A void keeps its number; the gift can then be receipted again, anew."""

    class Opened(Aggregate.Created):
        year: int

    class ReceiptIssued(Aggregate.Event):
        sequence: int
        donation_id: UUID
        source_key: str
        campaign: str
        amount_cents: int
        method: str
        value_date: date
        issued_on: date
        deductibility: str
        sealed_donor: str | None

    class ReceiptVoided(Aggregate.Event):
        sequence: int
        reason: str
        by: str
        on: date

    @staticmethod
    def create_id(year: int) -> UUID:  # type: ignore[override]
        return natural_id("receipt_book", str(year))

    @event(Opened)
    def __init__(self, year: int) -> None:
        self.year = year
        self.entries: list[ReceiptEntry] = []
        self.live: dict[UUID, int] = {}

    def receipt_for(self, donation_id: UUID) -> ReceiptEntry | None:
        """The gift's receipt in force, if any (a voided one does not count)."""
        sequence = self.live.get(donation_id)
        return self.entries[sequence - 1] if sequence else None

    def entry(self, sequence: int) -> ReceiptEntry:
        if not 1 <= sequence <= len(self.entries):
            raise NotFoundError(
                N_("no receipt %(number)s", number=receipt_number(self.year, sequence))
            )
        return self.entries[sequence - 1]

    def issue(
        self,
        donation_id: UUID,
        source_key: str,
        campaign: str,
        amount_cents: int,
        method: str,
        value_date: date,
        issued_on: date,
        statement: str,
        sealed_donor: str | None,
    ) -> ReceiptEntry:
        """The gift's receipt: the one in force, or a new one with the next number."""
        existing = self.receipt_for(donation_id)
        if existing is not None:
            return existing
        if value_date.year != self.year:
            raise ConflictError(
                N_(
                    "a gift of %(year)s belongs in that year's book, not in %(book)s's",
                    year=value_date.year,
                    book=self.year,
                )
            )
        if amount_cents <= 0:
            raise ConflictError(N_("nothing left to receipt: the gift was refunded"))
        self._issued(
            sequence=len(self.entries) + 1,
            donation_id=donation_id,
            source_key=source_key,
            campaign=campaign,
            amount_cents=amount_cents,
            method=method,
            value_date=value_date,
            issued_on=issued_on,
            deductibility=statement,
            sealed_donor=sealed_donor,
        )
        return self.entries[-1]

    @event(ReceiptIssued)
    def _issued(
        self,
        sequence: int,
        donation_id: UUID,
        source_key: str,
        campaign: str,
        amount_cents: int,
        method: str,
        value_date: date,
        issued_on: date,
        deductibility: str,
        sealed_donor: str | None,
    ) -> None:
        self.entries.append(
            ReceiptEntry(
                receipt_number(self.year, sequence),
                sequence,
                donation_id,
                source_key,
                campaign,
                amount_cents,
                method,
                value_date,
                issued_on,
                deductibility,
                sealed_donor,
            )
        )
        self.live[donation_id] = sequence

    def void(self, sequence: int, reason: str, by: str, on: date) -> bool:
        """Void a receipt: its number stays, marked void with the reason. False when it
        was already void."""
        entry = self.entry(sequence)
        if entry.status == VOID:
            return False
        if not reason.strip():
            raise InvalidInputError(
                N_("say why the receipt is voided"), {"reason": [N_("required")]}
            )
        self._voided(sequence=sequence, reason=reason.strip(), by=by, on=on)
        return True

    @event(ReceiptVoided)
    def _voided(self, sequence: int, reason: str, by: str, on: date) -> None:
        entry = self.entries[sequence - 1]
        self.entries[sequence - 1] = replace(entry, status=VOID, void_reason=reason)
        self.live.pop(entry.donation_id, None)
