"""The webhook inbox's two ends: what a delivery must pass before it is kept, and the processor
that applies kept deliveries to the ledger, many per transaction.

The webhook answers once the raw delivery is stored (`vault/inbox.py`); the processor
(`ledger inbox --follow`) applies it later. A delivery applied twice (a processor killed after
the ledger's commit and before the inbox's) changes nothing the second time: every command of
the ledger is idempotent by its Stripe key, so "at least once" here is exactly once in the
figures. One delivery that cannot be applied is set apart as failed, with the reason; the
others go on.
"""

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.errors import ChangedMeanwhileError, NotFoundError
from ledger.gift import Gift
from ledger.payments import PaymentNotice
from projections.runner import INFRASTRUCTURE, describe_error
from projections.store import LedgerStore
from vault.inbox import Delivery, Settlement, recorded_aggregates
from web.donate import newest_open_campaign
from web.stripe_gateway import StripeEvents

BATCH = 500
log = logging.getLogger(__name__)
# What a delivery naming no campaign is checked against at the webhook: the campaign it goes
# to is chosen when it is applied (LEDGER_DEFAULT_CAMPAIGN, or the newest open one).
CHOSEN_LATER = "default-campaign"


class PlannedCommands:
    """A stand-in for the ledger: each command is built (which checks every amount, date and
    text as the ledger would) and its campaign looked up, but nothing is recorded; `calls`
    keeps what the ledger would be asked."""

    def __init__(self, campaign_known: Callable[[str], bool] | None = None) -> None:
        self.campaign_known = campaign_known
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _campaign(self, slug: str) -> None:
        if (
            self.campaign_known is not None
            and slug != CHOSEN_LATER
            and not self.campaign_known(slug)
        ):
            raise NotFoundError(f"unknown campaign {slug!r}")

    def receive_payment(self, gift: Gift, *notices: PaymentNotice) -> bool:
        self._campaign(gift.campaign)
        self.calls.append(("receive_payment", (gift, *notices)))
        return True

    def settle_payment(self, gift: Gift, notice: PaymentNotice) -> bool:
        self._campaign(gift.campaign)
        self.calls.append(("settle_payment", (gift, notice)))
        return True

    def link_payment(self, payment_key: str, gift_key: str) -> bool:
        self.calls.append(("link_payment", (payment_key, gift_key)))
        return True

    def gift_key_for(self, key: str) -> str:
        self.calls.append(("gift_key_for", (key,)))
        return key

    def notify_payment(self, source_key: str, notice: PaymentNotice) -> bool:
        self.calls.append(("notify_payment", (source_key, notice)))
        return True

    def start_recurring(self, source_key: str, campaign: str, amount_cents: int, on: date) -> bool:
        self._campaign(campaign)
        self.calls.append(("start_recurring", (source_key, campaign, amount_cents, on)))
        return True

    def cancel_recurring(self, source_key: str, campaign: str, amount_cents: int, on: date) -> bool:
        self._campaign(campaign)
        self.calls.append(("cancel_recurring", (source_key, campaign, amount_cents, on)))
        return True

    def only_gift(self) -> Gift | None:
        """The gift, when all the delivery asks is to record one new gift (the common case,
        which the processor records in batches)."""
        if len(self.calls) == 1 and self.calls[0][0] == "receive_payment":
            args = self.calls[0][1]
            if len(args) == 1:
                gift: Gift = args[0]
                return gift
        return None


def check_delivery(event: Any, campaign_known: Callable[[str], bool]) -> str:
    """Everything the ledger would refuse in a delivery, found before it is kept (so Stripe
    is answered 400 with the reason, as when deliveries were applied at once): its shape,
    every amount, date and text of the commands it makes, and the campaign it names.
    MalformedEvent when it is refused; "ignored" for a type the ledger does not handle."""
    return StripeEvents(PlannedCommands(campaign_known), lambda: CHOSEN_LATER).apply(event)


class InboxProcessor:
    """Applies the inbox's deliveries to the ledger: new gifts many per transaction, other
    deliveries one at a time; safe to run in several processes at once."""

    def __init__(self, store: LedgerStore, default_campaign: str | None = None) -> None:
        self.store = store
        self.configured_campaign = default_campaign

    def default_campaign(self) -> str:
        return newest_open_campaign(self.store.database, self.configured_campaign)

    def process(self, limit: int = BATCH) -> int:
        """Apply the deliveries due, up to `limit`; how many were claimed (0: none due)."""
        with self.store.inbox.claim(limit) as (deliveries, settlement):
            together: list[tuple[Delivery, Any, Gift]] = []
            alone: list[tuple[Delivery, Any]] = []
            for delivery in deliveries:
                try:
                    event = json.loads(delivery.payload)
                except ValueError as error:
                    settlement.fail(delivery, describe_error(error))
                    continue
                planned = PlannedCommands()
                try:
                    StripeEvents(planned, self.default_campaign).apply(event)
                except INFRASTRUCTURE:
                    raise
                except Exception:  # noqa: BLE001 - applied alone below, which reports why
                    alone.append((delivery, event))
                    continue
                gift = planned.only_gift()
                if gift is not None:
                    together.append((delivery, event, gift))
                elif planned.calls:
                    alone.append((delivery, event))
                else:
                    settlement.apply(delivery)  # nothing to record (a session paying nothing)
            if together:
                alone += self._receive_together(together, settlement)
            for delivery, event in alone:
                self._apply_alone(delivery, event, settlement)
            return len(deliveries)

    def drain(self) -> int:
        """Process until no delivery is due; how many were claimed in all."""
        claimed = 0
        while done := self.process():
            claimed += done
        return claimed

    def follow(
        self, interval: float = 0.2, stop: Callable[[], bool] = lambda: False, limit: int = BATCH
    ) -> None:
        """Keep applying deliveries as they arrive, until `stop()` says so. After a batch
        that was not full it waits `interval`, so that under load the deliveries of that
        moment go in one batch (a few commits) rather than one batch each."""
        while not stop():
            try:
                done = self.process(limit)
            except INFRASTRUCTURE as error:
                # Nothing of the batch was settled: its deliveries are claimed again.
                log.warning("database unavailable, retrying: %s", error)
                done = 0
            if done < limit:
                time.sleep(interval)

    def _receive_together(
        self, together: Sequence[tuple[Delivery, Any, Gift]], settlement: Settlement
    ) -> list[tuple[Delivery, Any]]:
        """Record the batch's new gifts in few transactions; when anything in the batch is
        refused, its deliveries are applied one at a time instead (returned), so that one
        refusal stops only its own delivery."""
        try:
            self.store.app.receive_payments([gift for _, _, gift in together], self._parked)
        except INFRASTRUCTURE:
            raise
        except Exception:  # noqa: BLE001 - applied alone, which reports why
            return [(delivery, event) for delivery, event, _ in together]
        for delivery, _event, _gift in together:
            settlement.apply(delivery)
        return []

    def _apply_alone(self, delivery: Delivery, event: Any, settlement: Settlement) -> None:
        try:
            StripeEvents(self.store.app, self.default_campaign).apply(event)
        except INFRASTRUCTURE:
            raise
        except (ChangedMeanwhileError, IntegrityError) as lost:
            # Another process changed the same payment first: tried again a moment later.
            settlement.retry(delivery, describe_error(lost))
        except Exception as error:  # noqa: BLE001 - kept apart with its reason, never lost
            log.error("stripe event %s cannot be applied: %s", delivery.event_id, error)
            settlement.fail(delivery, describe_error(error))
        else:
            settlement.apply(delivery)

    def _parked(self, ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates exist, in one query on the event store: the notices
        parked for a batch's gifts are found without one read per gift."""
        table: str = self.store.app.recorder.events_table_name  # type: ignore[attr-defined]
        return recorded_aggregates(self.store.database, table, ids)
