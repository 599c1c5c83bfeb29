"""Stand commands: open a stand, tally givers, log named gifts, count, close; bank deposits."""

import contextlib
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.deposit import BankDeposit, check_deposit
from ledger.donation import Donation
from ledger.errors import ConflictError, NotFoundError
from ledger.gift import Gift, NamedGift
from ledger.gifts import Gifts
from ledger.identity import DonorDetails
from ledger.privacy import seal, unseal
from ledger.stand import StandCollection, check_opening
from ledger.texts import N_


class Stands(Gifts):
    """Piazza stands: closing one records its gifts in the same transaction."""

    def open_stand(
        self,
        campaign: str,
        place: str,
        comune: str,
        district: str,
        day: date,
        volunteers: list[str],
    ) -> UUID:
        """Open a stand; the same opening sent again returns the same stand."""
        names = check_opening(campaign, place, comune, district, day, volunteers)
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
            raise NotFoundError(N_("no stand %(id)s", id=stand_id)) from None
        if not isinstance(stand, StandCollection):
            raise NotFoundError(N_("no stand %(id)s", id=stand_id))
        return stand

    def _change_stand(self, stand_id: UUID, change: Any) -> Any:
        stand = self.get_stand(stand_id)
        result = change(stand)
        try:
            self.save(stand)
        except IntegrityError:
            raise ConflictError(N_("changed meanwhile by another phone: try again")) from None
        return result

    def tally_gift(self, stand_id: UUID, entry_id: str, amount_cents: int | None = None) -> bool:
        return bool(self._change_stand(stand_id, lambda s: s.tally(entry_id, amount_cents)))

    def undo_tally(self, stand_id: UUID, entry_id: str) -> bool:
        return bool(self._change_stand(stand_id, lambda s: s.undo_tally(entry_id)))

    def log_named_gift(self, stand_id: UUID, gift: NamedGift) -> bool:
        """A giver who wants a receipt or news: sealed with the key of the gift-to-be."""
        gift.check_contact()
        stand = self.get_stand(stand_id)
        subject = Donation.create_id(stand.gift_key(gift.entry_id))
        key = self.sealing_keys([subject])[subject]
        sealed = seal(
            key,
            subject,
            {
                "donor": gift.details.to_dict(),
                "privacy_consent": gift.privacy_consent,
                "marketing_consent": gift.marketing_consent,
            },
        )
        return bool(
            self._change_stand(
                stand_id,
                lambda s: s.log_named_gift(
                    gift.entry_id, gift.amount_cents, gift.details.is_identified, sealed
                ),
            )
        )

    def count_cash(
        self,
        stand_id: UUID,
        counter: str,
        denominations: dict[int, int],
        entry_id: str = "",
        recount: bool = False,
    ) -> int:
        return int(
            self._change_stand(
                stand_id, lambda s: s.count_cash(counter, denominations, entry_id, recount)
            )
        )

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
            gifts.append(
                Gift(
                    source_key=stand.gift_key(entry_id),
                    campaign=stand.campaign,
                    amount_cents=amount,
                    value_date=stand.day,
                    channel="stand",
                    method="cash",
                    details=DonorDetails.from_dict(donor["donor"]),
                    privacy_consent=bool(donor.get("privacy_consent")),
                    marketing_consent=bool(donor.get("marketing_consent")),
                    district=stand.district,
                    stand=stand.place,
                )
            )
        if anonymous_cents or tallied:
            gifts.append(
                Gift(
                    source_key=stand.tally_key,
                    campaign=stand.campaign,
                    amount_cents=anonymous_cents,
                    value_date=stand.day,
                    channel="stand",
                    method="cash",
                    donors=tallied,
                    tally=True,
                    district=stand.district,
                    stand=stand.place,
                )
            )
        try:
            self.save(stand, *self.donations_for(gifts))
        except IntegrityError:
            raise ConflictError(N_("already closed from another phone")) from None
        return stand_state(stand)

    def record_deposit(
        self, reference: str, amount_cents: int, on: date, stand_ids: list[UUID]
    ) -> UUID:
        """Record a bank deposit once; the same reference again with other figures conflicts."""
        check_deposit(reference, amount_cents, on, stand_ids)
        for stand_id in stand_ids:
            self.get_stand(stand_id).require_closed_for_deposit()
        deposit = BankDeposit(
            reference.strip(), amount_cents, on, sorted(str(stand_id) for stand_id in stand_ids)
        )
        try:
            self.save(deposit)
        except IntegrityError:
            existing: BankDeposit = self.repository.get(deposit.id)
            figures = (existing.amount_cents, existing.on, existing.stands)
            if figures != (deposit.amount_cents, deposit.on, deposit.stands):
                raise ConflictError(
                    N_(
                        "deposit %(reference)s is already recorded with other figures",
                        reference=reference,
                    )
                ) from None
        return deposit.id


def stand_state(stand: StandCollection) -> dict[str, Any]:
    """What a phone needs to show, as plain data."""
    replaced = stand.replaced_counts()
    return {
        "id": str(stand.id),
        "campaign": stand.campaign,
        "place": stand.place,
        "comune": stand.comune,
        "district": stand.district,
        "day": stand.day.isoformat(),
        "volunteers": list(stand.volunteers),
        "status": stand.status,
        "version": stand.version,
        "tallied": stand.tallied,
        "named": len(stand.named),
        "named_cents": stand.named_cents,
        "tallied_cents": stand.tallied_cents,
        "givers": stand.tallied + len(stand.named),
        "counts": [
            {"counter": c, "total_cents": t, "replaced": index in replaced}
            for index, (c, _d, t) in enumerate(stand.counts)
        ],
        "closing": dict(stand.closing) or None,
    }
