"""Online payment commands: a payment's gift, and the notices (confirmed, failed, refunded,
disputed) that Stripe may deliver before, after or without it, parked until they can apply."""

import contextlib
from collections.abc import Callable, Collection, Sequence
from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.errors import ChangedMeanwhileError, ConflictError
from ledger.gift import Gift
from ledger.gifts import Gifts
from ledger.money_back import money_back_waits
from ledger.payments import (
    REFUND_FAILED,
    ParkedNotices,
    PaymentLink,
    PaymentNotice,
    RecurringGift,
)


class OnlinePayments(Gifts):
    """Card and SEPA payments: gifts recorded once, notices applied once, in any order."""

    def receive_payment(self, gift: Gift, *notices: PaymentNotice) -> bool:
        """Record an online gift (a resend is a no-op), then apply the notices that came with
        it and those that arrived before it; False when the gift was already recorded."""
        added = self.record_gift(gift)
        self._release_parked(gift.source_key)
        for notice in notices:
            self.notify_payment(gift.source_key, notice)
        return added

    def receive_payments(
        self,
        gifts: Sequence[Gift],
        existing: Callable[[Sequence[UUID]], Collection[UUID]] | None = None,
    ) -> int:
        """Record many online gifts at once (resends are no-ops), in few transactions, then
        apply the notices that arrived before them; how many gifts were new. `existing` tells
        which of the ids it is given are recorded aggregates, for the whole batch at once;
        without it, each gift's parked notices are looked for one by one. The gifts are
        recorded before the parked notices are looked for: a notice parked meanwhile then
        sees its gift (see `notify_payment`), so one of the two always applies it."""
        added = self.record_gifts(gifts).added
        keys = {ParkedNotices.create_id(gift.source_key): gift.source_key for gift in gifts}
        waiting = existing(list(keys)) if existing is not None else keys
        for parked_id in waiting:
            self._release_parked(keys[parked_id])
        return added

    def settle_payment(self, gift: Gift, notice: PaymentNotice) -> bool:
        """A delayed payment (SEPA) succeeded or failed: the notice applies to the payment's key
        whatever the gift first recorded there says, and `gift` is recorded only when nothing
        is, so a field read differently from a later copy of the session never loses the
        outcome. False when the gift was already recorded."""
        added = self._record_if_absent(gift)
        self._release_parked(gift.source_key)
        self.notify_payment(gift.source_key, notice)
        return added

    def _record_if_absent(self, gift: Gift) -> bool:
        if self.find_donation(gift.source_key) is not None:
            return False
        try:
            self._save_new(*self.donations_for([gift]))
        except IntegrityError:  # recorded meanwhile by another delivery
            return False
        return True

    def link_payment(self, payment_key: str, gift_key: str) -> bool:
        """The payment under `payment_key` is the money of the gift under `gift_key` (a month
        of a monthly gift): its notices go to that gift from now on, parked ones included.
        False when the link was already known."""
        link = PaymentLink(payment_key, gift_key)
        added = True
        try:
            self.save(link)
        except IntegrityError:
            known: PaymentLink = self.repository.get(link.id)
            if known.gift_key != gift_key:
                raise ConflictError(
                    f"{payment_key} already pays {known.gift_key}, not {gift_key}"
                ) from None
            added = False
        self._release_parked(payment_key)
        return added

    def gift_key_for(self, key: str) -> str:
        """Where notices about `key` go: its own gift, else the gift its payment is linked to."""
        if self.find_donation(key) is not None:
            return key
        try:
            link: PaymentLink = self.repository.get(PaymentLink.create_id(key))
        except AggregateNotFoundError:
            return key
        return link.gift_key

    def notify_payment(self, source_key: str, notice: PaymentNotice) -> bool:
        """Apply a notice to its payment's gift, or park it until the gift is recorded (and,
        for a refund or a lost dispute, confirmed, with room for it). True when it was
        applied now."""
        target = self.gift_key_for(source_key)
        if self._apply_notice(target, notice):
            return True
        self._park(target, notice)
        # The gift, its confirmation or its link may have been recorded meanwhile by another
        # process, which did not see this notice yet: look again, so one of the two applies it.
        self._release_parked(target)
        parked: ParkedNotices = self.repository.get(ParkedNotices.create_id(target))
        return not parked.is_waiting(notice)

    def _apply_notice(self, source_key: str, notice: PaymentNotice) -> bool:
        """Apply a notice to the gift under `source_key`; False when there is no gift yet, or
        when the notice takes money back that must wait (see ledger.money_back.money_back_waits)."""
        for attempt in range(3):
            donation = self.find_donation(source_key)
            if donation is None or (
                notice.takes_money_back
                and money_back_waits(donation, notice.reference, notice.amount_cents)
            ):
                return False
            was_confirmed = donation.money_can_leave
            notice.apply_to(donation)
            changed = bool(donation.pending_events)
            try:
                self.save(donation)
            except IntegrityError:
                if attempt == 2:
                    raise ChangedMeanwhileError(f"{source_key} keeps changing; try again") from None
                continue
            if changed and (
                notice.kind == REFUND_FAILED or (donation.money_can_leave and not was_confirmed)
            ):
                # Refunds that waited for the confirmation, or for the room a failed one left.
                self._release_parked(source_key)
            return True
        return False  # pragma: no cover - the loop returns or raises

    def _park(self, source_key: str, notice: PaymentNotice) -> None:
        for _attempt in range(3):
            try:
                parked: ParkedNotices = self.repository.get(ParkedNotices.create_id(source_key))
            except AggregateNotFoundError:
                parked = ParkedNotices(source_key)
            if parked.is_waiting(notice):
                return
            parked.park(notice.to_dict())
            try:
                self.save(parked)
                return
            except IntegrityError:
                continue
        raise ChangedMeanwhileError(f"notices for {source_key} keep changing; try again")

    def _release_parked(self, source_key: str) -> None:
        """Apply the notices parked under `source_key` that can apply now; when the key turned
        out to be a payment linked to another gift, they move to that gift."""
        try:
            parked: ParkedNotices = self.repository.get(ParkedNotices.create_id(source_key))
        except AggregateNotFoundError:
            return
        waiting = parked.waiting()
        if not waiting:
            return
        target = self.gift_key_for(source_key)
        kept = []
        conflicts: list[ConflictError] = []
        for notice in waiting:
            try:
                if target != source_key:
                    self.notify_payment(target, notice)
                elif not self._apply_notice(source_key, notice):
                    kept.append(notice)
            except ChangedMeanwhileError:
                # Lost a race, not a contradiction: it waits for the next release, or for
                # Stripe's next delivery of its own event.
                kept.append(notice)
            except ConflictError as conflict:
                # It contradicts the ledger now and would for ever: reported, not kept.
                conflicts.append(conflict)
        parked.release(kept)
        # Another process may have released them too: the notices are idempotent, so a
        # clash here changes nothing that matters.
        with contextlib.suppress(IntegrityError):
            self.save(parked)
        if conflicts:
            raise conflicts[0]

    def start_recurring(self, source_key: str, campaign: str, amount_cents: int, on: date) -> bool:
        """A monthly gift begins (each paid month arrives as its own payment)."""
        self._campaign(campaign)
        try:
            self.save(RecurringGift(source_key, campaign, amount_cents, on))
        except IntegrityError:
            return False
        return True

    def cancel_recurring(self, source_key: str, campaign: str, amount_cents: int, on: date) -> bool:
        """A monthly gift ends; it is started first if its start has not arrived yet."""
        self.start_recurring(source_key, campaign, amount_cents, on)
        recurring: RecurringGift = self.repository.get(
            RecurringGift.create_id(source_key, campaign, amount_cents, on)
        )
        if recurring.cancel(on):
            self.save(recurring)
            return True
        return False
