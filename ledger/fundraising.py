"""Occasional public fundraising (art. 79 c.4 a, art. 87 c.6 D.Lgs. 117/2017): its expenses."""

from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from ledger.campaign import Campaign
from ledger.errors import ConflictError, NotFoundError
from ledger.texts import N_


def record_expense(
    app: Application[UUID], slug: str, amount_cents: int, on: date, what: str, by: str
) -> bool:
    """An expense of the campaign's fundraising; False when the same one was recorded."""
    try:
        campaign: Campaign = app.repository.get(Campaign.create_id(slug))
    except AggregateNotFoundError:
        raise NotFoundError(N_("unknown campaign %(slug)r", slug=slug)) from None
    if not campaign.record_expense(amount_cents, on, what, by):
        return False
    try:
        app.save(campaign)
    except IntegrityError:
        raise ConflictError(
            N_("campaign %(slug)s changed meanwhile; try again", slug=slug)
        ) from None
    return True
