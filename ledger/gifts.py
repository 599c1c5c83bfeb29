"""Gift commands: recording gifts in batches (resends recognised), sealing donors' data,
refunds, fees and corrections."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.campaigns import Campaigns
from ledger.donation import Donation
from ledger.errors import ConflictError, NotFoundError
from ledger.event_store import one_transaction, recorded_ids
from ledger.gift import Gift
from ledger.identity import DonorDetails
from ledger.privacy import new_key, seal, unseal
from ledger.receipt_book import ReceiptBook
from ledger.texts import N_

# Saving many aggregates in one save() is one transaction and one table lock on PostgreSQL.
SAVE_BATCH = 200


def needs_sealing(gift: Gift) -> bool:
    """Whether the gift carries personal data (consents included) to seal with its own key."""
    return (
        gift.details.has_any_personal_data
        or gift.privacy_consent
        or gift.marketing_consent
        or bool(gift.tribute_name)
    )


def sealed_data(gift: Gift) -> dict[str, Any]:
    """What a gift seals: its donor, their consents, and whom it remembers or honours."""
    data: dict[str, Any] = {
        "donor": gift.details.to_dict(),
        "privacy_consent": gift.privacy_consent,
        "marketing_consent": gift.marketing_consent,
    }
    if gift.tribute_kind:
        data["tribute"] = {"kind": gift.tribute_kind, "name": gift.tribute_name}
    return data


@dataclass(frozen=True)
class RecordOutcome:
    """What recording a batch of gifts did: new ones added, resends recognised."""

    added: int
    already_recorded: int


class Gifts(Campaigns):
    """Gifts, one Donation each, whatever the channel; their personal data sealed apart."""

    def find_donation(self, source_key: str) -> Donation | None:
        try:
            donation: Donation = self.repository.get(Donation.create_id(source_key))
        except AggregateNotFoundError:
            return None
        return donation

    def check_resend(self, gift: Gift) -> bool:
        """True when `gift` is already recorded as it is; a ConflictError when it differs."""
        donation = self.find_donation(gift.source_key)
        if donation is None:
            return False
        if not donation.same_money_as(gift):
            raise ConflictError(
                N_(
                    "%(key)r is already recorded with other figures (%(cents)s cents on %(day)s)",
                    key=gift.source_key,
                    cents=donation.amount_cents,
                    day=donation.value_date,
                )
            )
        return True

    def record_gifts(self, gifts: Sequence[Gift]) -> RecordOutcome:
        """Record gifts in few transactions; a resent gift is recognised and left as it was.

        A key given twice in `gifts` is one gift when both say the same, and a ConflictError
        before anything is saved when they differ. New gifts are saved optimistically, a batch
        at a time; only a batch that meets an existing id is checked gift by gift, so the
        common case costs no reads.
        """
        donations = self.donations_for(gifts)
        first_of: dict[UUID, Gift] = {}
        for gift in gifts:
            first_of.setdefault(gift.donation_id, gift)
        added = 0
        for start in range(0, len(donations), SAVE_BATCH):
            batch = donations[start : start + SAVE_BATCH]
            try:
                self._save_new(*batch)
            except IntegrityError:
                added += sum(self._record_one(first_of[donation.id]) for donation in batch)
                continue
            added += len(batch)
        return RecordOutcome(added, len(gifts) - added)

    def recorded(self, ids: Sequence[UUID]) -> set[UUID]:
        """Which of `ids` are recorded aggregates, asked in one query."""
        return recorded_ids(self.recorder, ids)

    def stored_events_for(
        self, items: Sequence[Gift | Aggregate], known_campaigns: set[str]
    ) -> list[StoredEvent]:
        """The events that would record `items` (new gifts, and any new aggregate beside them),
        ready for `record_stored`; their sealing keys are made now, in the vault. A gift's
        event is made without its aggregate (`Donation.received_event`): the same event, in
        a fraction of the time."""
        gifts = [item for item in items if isinstance(item, Gift)]
        others = [item for item in items if not isinstance(item, Gift)]
        received = Donation.received_event
        to_stored = self.mapper.to_stored_event
        stored = [
            to_stored(received(donation_id, **fields))
            for donation_id, fields in self._received(gifts, known_campaigns)
        ]
        stored.extend(to_stored(event) for other in others for event in other.collect_events())
        return stored

    def record_stored(self, batches: Iterable[Sequence[StoredEvent]]) -> None:
        """Record every batch of prepared events in one database transaction: all, or none on
        any error or a kill. Only one batch is held at a time, so any number of gifts fits in
        flat memory. An aggregate recorded meanwhile by another process fails the whole
        transaction with eventsourcing's IntegrityError."""
        with one_transaction(self.recorder) as append:
            for batch in batches:
                append(batch)

    def record_gift(self, gift: Gift) -> bool:
        """Record one gift; False when it was a resend."""
        return self.record_gifts([gift]).added == 1

    def _record_one(self, gift: Gift) -> bool:
        if self.check_resend(gift):
            return False
        try:
            self._save_new(*self.donations_for([gift], set()))
        except IntegrityError:
            self.check_resend(gift)  # recorded meanwhile by another process: same, or conflict
            return False
        return True

    def donations_for(
        self, gifts: Sequence[Gift], known_campaigns: set[str] | None = None
    ) -> list[Donation]:
        """New, unsaved Donations for `gifts`, their personal data sealed with keys made (or
        found) in the vault first, to be saved by the caller, possibly with other aggregates in
        the same transaction."""
        return [Donation(**fields) for _id, fields in self._received(gifts, known_campaigns)]

    def _received(
        self, gifts: Sequence[Gift], known_campaigns: set[str] | None
    ) -> list[tuple[UUID, dict[str, Any]]]:
        """The id and the `Donation.Received` fields of each new donation `gifts` make, once
        per key (a key given twice with other figures is a ConflictError), their personal data
        sealed with keys made (or found) in the vault first."""
        known = known_campaigns if known_campaigns is not None else set()
        ids = [gift.donation_id for gift in gifts]  # a uuid5 each: computed once
        subjects = [
            subject for subject, gift in zip(ids, gifts, strict=True) if needs_sealing(gift)
        ]
        keys = self.sealing_keys(subjects)
        if len(keys) < len(set(subjects)):
            raise ConflictError(N_("a sealing key went missing meanwhile (an erasure?): try again"))
        received: dict[UUID, dict[str, Any]] = {}
        for donation_id, gift in zip(ids, gifts, strict=True):
            if donation_id in received:
                first = Donation(**received[donation_id])
                if not first.same_money_as(gift):
                    raise ConflictError(
                        f"{gift.source_key!r} is given twice with other figures "
                        f"({first.amount_cents} cents on {first.value_date.isoformat()}, then "
                        f"{gift.amount_cents} cents on {gift.value_date.isoformat()})"
                    )
                continue
            if gift.campaign not in known:
                self._campaign(gift.campaign)
                known.add(gift.campaign)
            sealed = None
            if donation_id in keys:
                sealed = seal(keys[donation_id], donation_id, sealed_data(gift))
            received[donation_id] = {
                "source_key": gift.source_key,
                "campaign": gift.campaign,
                "amount_cents": gift.amount_cents,
                "donors": gift.donors,
                "identified": gift.identified,
                "channel": gift.channel,
                "method": gift.method,
                "value_date": gift.value_date,
                "district": gift.district,
                "stand": gift.stand,
                "status": gift.status,
                "sealed_donor": sealed,
                "instalment": gift.instalment,
                "covered_fee_cents": gift.covered_fee_cents,
                "public_place": gift.public_place,
            }
        return list(received.items())

    def sealing_keys(self, subjects: Sequence[UUID]) -> dict[UUID, bytes]:
        """The key each subject's personal data is sealed with, made where missing.

        Keys are stored before any event that uses them (a crash leaves an unused key, never
        unreadable data), and read back: the vault keeps the first key stored for a subject
        (one made by an earlier attempt, or by another process at the same moment), and every
        writer must seal with that one."""
        if not subjects:
            return {}
        return self.vault.store({subject: new_key() for subject in subjects})

    def donor_of(self, donation: Donation) -> dict[str, Any] | None:
        """The sealed personal data of a gift, or None when it has none or it was erased."""
        if donation.sealed_donor is None:
            return None
        key = self.vault.keys_for([donation.id]).get(donation.id)
        return unseal(key, donation.id, donation.sealed_donor)

    def details_of(self, donation: Donation) -> DonorDetails | None:
        sealed = self.donor_of(donation)
        return DonorDetails.from_dict(sealed["donor"]) if sealed else None

    def _donation(self, source_key: str) -> Donation:
        donation = self.find_donation(source_key)
        if donation is None:
            raise NotFoundError(N_("no gift recorded under %(key)r", key=source_key))
        return donation

    def refund(
        self, source_key: str, refund_id: str, amount_cents: int, on: date, reason: str = ""
    ) -> bool:
        donation = self._donation(source_key)
        self._require_no_receipt(donation)
        if donation.refund(refund_id, amount_cents, on, reason):
            self.save(donation)
            return True
        return False

    def _require_no_receipt(self, donation: Donation) -> None:
        """A receipted gift changes only once its receipt is voided (it is receipted anew
        afterwards), so that no receipt in force states an amount the ledger no longer holds."""
        try:
            book: ReceiptBook = self.repository.get(ReceiptBook.create_id(donation.value_date.year))
        except AggregateNotFoundError:
            return
        entry = book.receipt_for(donation.id)
        if entry is not None:
            raise ConflictError(N_("void receipt %(number)s first", number=entry.number))

    def record_fee(self, source_key: str, fee_cents: int, source: str) -> bool:
        donation = self._donation(source_key)
        if donation.record_fee(fee_cents, source):
            self.save(donation)
            return True
        return False

    def correct_gift(
        self, source_key: str, amount_cents: int, value_date: date, reason: str, by: str
    ) -> None:
        donation = self._donation(source_key)
        self._require_no_receipt(donation)
        donation.correct(amount_cents, value_date, reason, by)
        self.save(donation)
