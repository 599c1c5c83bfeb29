"""Stand commands: open a stand, tally givers, log named gifts, count, close; bank deposits."""

import contextlib
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.bounds import (
    MAX_TARGET_CENTS,
    amount_problem,
    date_problem,
    text_problem,
)
from ledger.donation import DISTRICTS, Donation, Gift
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.gifts import Gifts
from ledger.identity import DonorDetails
from ledger.privacy import seal, unseal
from ledger.stand import CLOSED, BankDeposit, NamedGift, StandCollection, invalid_field


class Stands(Gifts):
    """Piazza stands: closing one records its gifts in the same transaction."""

    def open_stand(self, campaign: str, place: str, comune: str, district: str, day: date,
                   volunteers: list[str]) -> UUID:
        """Open a stand; the same opening sent again returns the same stand."""
        problems: dict[str, list[str]] = {}
        if not place.strip():
            problems["place"] = ["where is the stand? (piazza)"]
        if not comune.strip():
            problems["comune"] = ["which comune?"]
        if district not in DISTRICTS:
            problems["district"] = [f"one of {', '.join(DISTRICTS)}"]
        names = [v.strip() for v in volunteers if v.strip()]
        if not names:
            problems["volunteers"] = ["at least one volunteer"]
        for field, problem in [("campaign", text_problem(campaign)),
                               ("place", text_problem(place)),
                               ("comune", text_problem(comune)), ("day", date_problem(day)),
                               *(("volunteers", text_problem(v)) for v in volunteers)]:
            if problem:
                problems[field] = [problem]
        if problems:
            raise InvalidInputError(
                "; ".join(f"{k}: {m}" for k, ms in problems.items() for m in ms), problems)
        self._campaign(campaign).check_gift_day(day)
        stand = StandCollection(campaign, place.strip(), comune.strip(), district, day, names)
        # Already opened: the natural key makes a resent opening a no-op.
        with contextlib.suppress(IntegrityError):
            self.save(stand)
        return stand.id

    def get_stand(self, stand_id: UUID) -> StandCollection:
        try:
            stand: Aggregate = self.repository.get(stand_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"no stand {stand_id}") from None
        if not isinstance(stand, StandCollection):
            raise NotFoundError(f"no stand {stand_id}")
        return stand

    def _change_stand(self, stand_id: UUID, change: Any) -> Any:
        stand = self.get_stand(stand_id)
        result = change(stand)
        try:
            self.save(stand)
        except IntegrityError:
            raise ConflictError(
                "il banchetto è stato modificato da un altro telefono: riprova "
                "(changed meanwhile by another phone)") from None
        return result

    def tally_gift(self, stand_id: UUID, entry_id: str, amount_cents: int | None = None) -> bool:
        return bool(self._change_stand(stand_id, lambda s: s.tally(entry_id, amount_cents)))

    def undo_tally(self, stand_id: UUID, entry_id: str) -> bool:
        return bool(self._change_stand(stand_id, lambda s: s.undo_tally(entry_id)))

    def log_named_gift(self, stand_id: UUID, gift: NamedGift) -> bool:
        """A giver who wants a receipt or news: sealed with the key of the gift-to-be."""
        if not gift.privacy_consent:
            raise invalid_field("privacy_consent",
                           "serve il consenso privacy per tenere il contatto; altrimenti usa +1")
        if not gift.details.is_identified:
            raise invalid_field("email", "an e-mail, a phone or a codice fiscale is needed")
        stand = self.get_stand(stand_id)
        subject = Donation.create_id(stand.gift_key(gift.entry_id))
        key = self.sealing_keys([subject])[subject]
        sealed = seal(key, subject, {"donor": gift.details.to_dict(),
                                     "privacy_consent": gift.privacy_consent,
                                     "marketing_consent": gift.marketing_consent})
        return bool(self._change_stand(stand_id, lambda s: s.log_named_gift(
            gift.entry_id, gift.amount_cents, gift.details.is_identified, sealed)))

    def count_cash(self, stand_id: UUID, counter: str, denominations: dict[int, int]) -> int:
        return int(self._change_stand(stand_id, lambda s: s.count_cash(counter, denominations)))

    def close_stand(self, stand_id: UUID) -> dict[str, Any]:
        """Close and record the gifts in the same transaction: the named ones, and one
        anonymous tally of (counted − named) cash from the tallied givers, whichever of the
        two is zero (see Gift.tally)."""
        stand = self.get_stand(stand_id)
        anonymous_cents, tallied = stand.close()
        subjects = {entry: Donation.create_id(stand.gift_key(entry)) for entry in stand.named}
        keys = self.vault.keys_for(subjects.values())
        gifts = []
        for entry_id, (amount, _identified, sealed) in stand.named.items():
            subject = subjects[entry_id]
            # None once erased: the money is still a gift, from nobody we know.
            donor = unseal(keys.get(subject), subject, sealed) or {"donor": {}}
            gifts.append(Gift(
                source_key=stand.gift_key(entry_id), campaign=stand.campaign,
                amount_cents=amount, value_date=stand.day, channel="stand", method="cash",
                details=DonorDetails.from_dict(donor["donor"]),
                privacy_consent=bool(donor.get("privacy_consent")),
                marketing_consent=bool(donor.get("marketing_consent")),
                district=stand.district, stand=stand.place))
        if anonymous_cents or tallied:
            gifts.append(Gift(source_key=stand.tally_key, campaign=stand.campaign,
                              amount_cents=anonymous_cents, value_date=stand.day,
                              channel="stand", method="cash", donors=tallied, tally=True,
                              district=stand.district, stand=stand.place))
        try:
            self.save(stand, *self.donations_for(gifts))
        except IntegrityError:
            raise ConflictError("il banchetto è già stato chiuso da un altro telefono "
                                "(already closed from another phone)") from None
        return stand.state()

    def record_deposit(self, reference: str, amount_cents: int, on: date,
                       stand_ids: list[UUID]) -> UUID:
        """Record a bank deposit once; the same reference again with other figures conflicts."""
        problems: dict[str, list[str]] = {}
        if problem := text_problem(reference):
            problems["reference"] = [problem]
        elif not reference.strip():
            problems["reference"] = ["the bank's reference (CRO/TRN) of the deposit"]
        # One deposit may pool the cash of many stands: bounded like a campaign's target.
        if problem := amount_problem(amount_cents, most=MAX_TARGET_CENTS):
            problems["amount_cents"] = [problem]
        if problem := date_problem(on):
            problems["on"] = [problem]
        if not stand_ids:
            problems["stands"] = ["choose the stands whose cash was deposited"]
        if problems:
            raise InvalidInputError(
                "; ".join(f"{k}: {m}" for k, ms in problems.items() for m in ms), problems)
        for stand in (self.get_stand(stand_id) for stand_id in stand_ids):
            if stand.status != CLOSED:
                raise ConflictError(f"close the stand {stand.place} before its deposit")
        deposit = BankDeposit(reference.strip(), amount_cents, on,
                              sorted(str(stand_id) for stand_id in stand_ids))
        try:
            self.save(deposit)
        except IntegrityError:
            existing: BankDeposit = self.repository.get(deposit.id)
            if (existing.amount_cents, existing.stands) != (deposit.amount_cents, deposit.stands):
                raise ConflictError(
                    f"deposit {reference} is already recorded with other figures") from None
        return deposit.id
