"""Mail the foundation sends: a receipt sent again on request is an event like any other."""

import contextlib
import uuid
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from ledger.donation import Donation
from ledger.gift import LATER_MONTH


def thanked_by_mail(gift: Donation.Received) -> bool:
    """Whether a gift is thanked by e-mail with its receipt: an online gift of one identified
    person, once confirmed. Of a monthly gift only the first month is: its mail says that the
    later months come together in the annual statement, and a mail every month would be noise
    (the donor's bank statement already shows each one)."""
    return (
        gift.channel == "online"
        and gift.identified
        and gift.donors == 1
        and gift.instalment != LATER_MONTH
    )


class ReceiptMailRequested(Aggregate):
    """Staff asked to send a receipt to its donor again (once per request)."""

    class Requested(Aggregate.Created):
        number: str
        donation_id: str
        by: str

    @event(Requested)
    def __init__(self, number: str, donation_id: str, by: str) -> None:
        self.number = number
        self.donation_id = donation_id
        self.by = by


def request_receipt_mail(
    app: Application[UUID], number: str, donation_id: UUID, by: str, request_id: UUID | None = None
) -> UUID:
    """Queue the receipt for its donor again; the same `request_id` twice is one request."""
    request = ReceiptMailRequested._create(
        ReceiptMailRequested.Requested,
        id=request_id or uuid.uuid4(),
        number=number,
        donation_id=str(donation_id),
        by=by,
    )
    with contextlib.suppress(IntegrityError):  # the same request sent twice
        app.save(request)
    return request.id
