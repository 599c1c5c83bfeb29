"""What every application service shares: one event store, one key vault, one way to save."""

from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from ledger.privacy import KeyVault


class LedgerService(Application[UUID]):
    """The base of the application services; LedgerApplication composes them over one store."""

    vault: KeyVault

    def _save_new(self, *aggregates: Aggregate) -> None:
        if aggregates:
            self.save(*aggregates)
