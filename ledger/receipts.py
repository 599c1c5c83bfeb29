"""Receipts: issuing and voiding in the year's ReceiptBook, and what a receipt or statement says."""

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.application import LedgerApplication
from ledger.donation import Donation
from ledger.errors import ConflictError, NotFoundError
from ledger.gift import CONFIRMED
from ledger.identity import DonorDetails
from ledger.privacy import seal, unseal
from ledger.receipt_book import (
    ReceiptBook,
    ReceiptEntry,
    deductibility,
    parse_receipt_number,
)
from ledger.texts import N_

# Receipts written per save(): one transaction and, on PostgreSQL, one table lock.
CHUNK = 100
# Issuers that collide retry after a short random pause; this many tries is minutes of
# contention, far beyond any real back office.
ATTEMPTS = 500


@dataclass(frozen=True)
class ReceiptDocument:
    """Everything printed on a receipt; `donor` is None once the donor was erased."""

    number: str
    status: str
    void_reason: str
    donation_id: UUID
    source_key: str
    campaign: str
    amount_cents: int
    method: str
    value_date: date
    issued_on: date
    deductibility: str
    donor: DonorDetails | None
    # Whom the gift remembers or honours: {"kind": "memory" | "honour", "name": …}, or None.
    tribute: dict[str, str] | None = None


@dataclass(frozen=True)
class IssueOutcome:
    """What a batch did: receipts issued now, gifts that already had one, gifts left out."""

    issued: list[str]
    already: int
    skipped: dict[str, str]


@dataclass(frozen=True)
class _Candidate:
    donation: Donation
    amount_cents: int
    statement: str
    sealed_donor: str


class Receipts:
    """The receipt commands and queries, over the ledger's event store and key vault."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app

    def _book(self, year: int) -> ReceiptBook:
        try:
            book: ReceiptBook = self.app.repository.get(ReceiptBook.create_id(year))
        except AggregateNotFoundError:
            book = ReceiptBook(year)
        return book

    def _candidate(self, donation: Donation) -> _Candidate | str:
        """The receipt a gift would get, or why it gets none."""
        if donation.donors != 1 or not donation.identified:
            return "anonymous gift: no receipt"
        if donation.status != CONFIRMED:
            return f"payment {donation.status}: no receipt until it is confirmed"
        # What the foundation kept: refunds and disputes lost to a chargeback both gave it back.
        amount = donation.amount_cents - donation.taken_back_cents
        if amount <= 0:
            return "refunded in full" if donation.refunded_cents else "lost in a dispute"
        key = self.app.vault.keys_for([donation.id]).get(donation.id)
        sealed = unseal(key, donation.id, donation.sealed_donor) if donation.sealed_donor else None
        if sealed is None:
            return "the donor's personal data was erased"
        details = DonorDetails.from_dict(sealed["donor"])
        assert key is not None  # unsealed above
        return _Candidate(
            donation,
            amount,
            deductibility(donation.method, details.tax_code),
            seal(key, donation.id, _receipt_data(details, sealed.get("tribute"))),
        )

    def issue(
        self, source_keys: Sequence[str], on: date, progress: Callable[[int], None] | None = None
    ) -> IssueOutcome:
        """Receipt each gift that has none in force; re-running issues nothing twice.
        `progress` is told how many gifts were handled after each chunk."""
        issued: list[str] = []
        already = 0
        skipped: dict[str, str] = {}
        by_year: dict[int, list[_Candidate]] = {}
        for key in dict.fromkeys(source_keys):
            donation = self.app.find_donation(key)
            if donation is None:
                raise NotFoundError(N_("no gift recorded under %(key)r", key=key))
            candidate = self._candidate(donation)
            if isinstance(candidate, str):
                skipped[key] = candidate
            else:
                by_year.setdefault(donation.value_date.year, []).append(candidate)
        done = len(skipped)
        for year, candidates in sorted(by_year.items()):
            for start in range(0, len(candidates), CHUNK):
                chunk = candidates[start : start + CHUNK]
                new, old = self._write(year, chunk, on)
                issued += new
                already += old
                done += len(chunk)
                if progress is not None:
                    progress(done)
        return IssueOutcome(issued, already, skipped)

    def _write(self, year: int, chunk: Sequence[_Candidate], on: date) -> tuple[list[str], int]:
        for _attempt in range(ATTEMPTS):
            book = self._book(year)
            before = len(book.entries)
            for candidate in chunk:
                donation = candidate.donation
                book.issue(
                    donation.id,
                    donation.source_key,
                    donation.campaign,
                    candidate.amount_cents,
                    donation.method,
                    donation.value_date,
                    on,
                    candidate.statement,
                    candidate.sealed_donor,
                )
            new = [entry.number for entry in book.entries[before:]]
            if not new:
                return [], len(chunk)
            try:
                self.app.save(book)
            except IntegrityError:
                # Another issuer took the next numbers first: read the book again.
                time.sleep(random.uniform(0, 0.02))
                continue
            return new, len(chunk) - len(new)
        raise ConflictError(N_("the %(year)s receipt book is too busy; try again", year=year))

    def void(self, number: str, reason: str, by: str, on: date) -> bool:
        """Void a receipt (its number stays, with the reason); False if it was void already."""
        year, sequence = parse_receipt_number(number)
        for _attempt in range(ATTEMPTS):
            book = self._book(year)
            if book.version == 0 or not book.entries:
                raise NotFoundError(N_("no receipt %(number)s", number=number))
            if not book.void(sequence, reason, by, on):
                return False
            try:
                self.app.save(book)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.02))
                continue
            return True
        raise ConflictError(N_("the %(year)s receipt book is too busy; try again", year=year))

    def document(self, number: str) -> ReceiptDocument:
        year, sequence = parse_receipt_number(number)
        book = self._book(year)
        return self._document(book.entry(sequence))

    def in_force(self, year: int, donation_ids: Sequence[UUID]) -> list[ReceiptDocument]:
        """The receipts in force for these gifts of one year, in number order."""
        book = self._book(year)
        entries = [book.receipt_for(donation_id) for donation_id in donation_ids]
        found = sorted((e for e in entries if e is not None), key=lambda e: e.sequence)
        return [self._document(entry) for entry in found]

    def _document(self, entry: ReceiptEntry) -> ReceiptDocument:
        donor: dict[str, Any] | None = None
        if entry.sealed_donor:
            key = self.app.vault.keys_for([entry.donation_id]).get(entry.donation_id)
            donor = unseal(key, entry.donation_id, entry.sealed_donor)
        return ReceiptDocument(
            number=entry.number,
            status=entry.status,
            void_reason=entry.void_reason,
            donation_id=entry.donation_id,
            source_key=entry.source_key,
            campaign=entry.campaign,
            amount_cents=entry.amount_cents,
            method=entry.method,
            value_date=entry.value_date,
            issued_on=entry.issued_on,
            deductibility=entry.deductibility,
            donor=DonorDetails.from_dict(donor["donor"]) if donor else None,
            tribute=donor.get("tribute") if donor else None,
        )


def _receipt_data(details: DonorDetails, tribute: dict[str, str] | None) -> dict[str, Any]:
    """What a receipt seals: the donor and, when the gift names someone, whom it remembers."""
    data: dict[str, Any] = {"donor": details.to_dict()}
    if tribute:
        data["tribute"] = tribute
    return data
