"""Registry and privacy commands: merge donors, change consents, erase (crypto-shred), audit."""

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.audit import AuditEntry
from ledger.dates import today as foundation_today
from ledger.donor import Donor, retention_reason
from ledger.errors import ConflictError
from ledger.service import LedgerService
from ledger.texts import N_


class Registry(LedgerService):
    """The donor registry (anagrafica) and the audit trail of personal data."""

    def _registry_entry(self, donor_id: UUID) -> Donor:
        try:
            donor: Donor = self.repository.get(donor_id)
        except AggregateNotFoundError:
            donor = Donor._create(Donor.Opened, id=donor_id)
        return donor

    def merge_donors(self, donor_id: UUID, into: UUID, by: str) -> None:
        """Two registry entries are one person: the first redirects to the second from now on."""
        if self._registry_entry(into).erased:
            raise ConflictError(N_("cannot merge into an erased donor"))
        donor = self._registry_entry(donor_id)
        donor.merge_into(into, by)
        self.save(donor)

    def unmerge_donors(self, donor_id: UUID, by: str) -> UUID:
        """Undo a merge by a compensating event; returns the donor it had been merged into.
        Refused once that donor's data is erased (the merged data went with it)."""
        donor = self._registry_entry(donor_id)
        if donor.merged_into and self._registry_entry(UUID(donor.merged_into)).erased:
            raise ConflictError("the donor it was merged into was erased since")
        into = donor.unmerge(by)
        self.save(donor)
        return UUID(into)

    def change_consent(
        self, donor_id: UUID, privacy: bool, marketing: bool, how: str, on: date, by: str
    ) -> None:
        donor = self._registry_entry(donor_id)
        donor.change_consent(privacy, marketing, how, on, by)
        self.save(donor)

    def erase_donor(
        self,
        donor_id: UUID,
        donations: list[UUID],
        has_tax_code: bool,
        last_gift_on: date | None,
        reason: str,
        by: str,
        force: bool = False,
        today: date | None = None,
    ) -> int:
        """Make the donor's personal data unreadable everywhere (their gifts' keys are
        destroyed); refused while the law wants it kept, unless forced (admins only, a
        reason recorded). Returns how many keys were destroyed."""
        keep = retention_reason(has_tax_code, last_gift_on, today or foundation_today())
        if keep and not force:
            raise ConflictError(N_("erasure refused: %(reason)s", reason=keep))
        donor = self._registry_entry(donor_id)
        if donor.erased:  # recorded before, maybe without reaching the vault: finish it
            return self.vault.destroy(donations)
        donor.erase([str(d) for d in donations], reason, bool(keep and force), by)
        self.save(
            donor,
            AuditEntry(
                "erasure",
                by,
                {
                    "donor": str(donor_id),
                    "reason": reason.strip(),
                    "forced": bool(keep and force),
                    "retention": keep or "",
                },
                len(donations),
            ),
        )
        return self.vault.destroy(donations)

    def record_audit(self, action: str, who: str, details: dict[str, Any], rows: int) -> None:
        self.save(AuditEntry(action, who, details, rows))
