"""Campaign commands: start, change the target, end; and reading one campaign back."""

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.bounds import check
from ledger.campaign import Campaign, check_campaign, check_campaign_day, target_problem
from ledger.errors import ConflictError, NotFoundError
from ledger.service import LedgerService
from ledger.texts import N_


@dataclass(frozen=True)
class CampaignInfo:
    id: UUID
    slug: str
    name: str
    target_cents: int
    starts_on: date | None
    ends_on: date | None
    is_open: bool


class Campaigns(LedgerService):
    """Campaigns: every other service checks through `_campaign` that a gift's campaign exists."""

    def start_campaign(
        self,
        slug: str,
        name: str,
        target_cents: int,
        starts_on: date | None = None,
        ends_on: date | None = None,
    ) -> UUID:
        """Start a campaign; the same command again is a no-op, a different one a conflict."""
        check_campaign(slug, name, target_cents, starts_on, ends_on)
        try:
            existing = self.get_campaign(slug)
        except NotFoundError:
            campaign = Campaign(slug, name.strip(), target_cents, starts_on, ends_on)
            self._save_new(campaign)
            return campaign.id
        if (existing.name, existing.target_cents, existing.starts_on, existing.ends_on) != (
            name.strip(),
            target_cents,
            starts_on,
            ends_on,
        ):
            raise ConflictError(
                N_("campaign %(slug)r already exists with other details", slug=slug)
            )
        return existing.id

    def change_target(self, slug: str, target_cents: int) -> None:
        check("target", target_problem(target_cents))
        campaign = self._campaign(slug)
        if campaign.target_cents != target_cents:
            campaign.change_target(target_cents)
            self.save(campaign)

    def end_campaign(self, slug: str, on: date) -> None:
        check_campaign_day("on", on)
        campaign = self._campaign(slug)
        if campaign.is_open:
            campaign.end(on)
            self.save(campaign)

    def get_campaign(self, slug: str) -> CampaignInfo:
        campaign = self._campaign(slug)
        return CampaignInfo(
            campaign.id,
            campaign.slug,
            campaign.name,
            campaign.target_cents,
            campaign.starts_on,
            campaign.ends_on,
            campaign.is_open,
        )

    def _campaign(self, slug: str) -> Campaign:
        try:
            campaign: Campaign = self.repository.get(Campaign.create_id(slug))
        except AggregateNotFoundError:
            raise NotFoundError(N_("unknown campaign %(slug)r", slug=slug)) from None
        return campaign
