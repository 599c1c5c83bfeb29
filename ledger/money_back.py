"""Money back: when a refund or a lost dispute may take money from a gift or must wait, and
what a correction may change beside them; each refusal is an error of its own, so a page can
say it in its own words."""

from datetime import date
from typing import TYPE_CHECKING

from ledger.bounds import check_amount, check_date, check_text
from ledger.errors import ConflictError, InvalidInputError
from ledger.texts import N_

if TYPE_CHECKING:
    from ledger.donation import Donation


def money_back_waits(donation: "Donation", reference: str, amount_cents: int) -> bool:
    """Whether a refund or lost dispute not seen before must wait rather than apply: the
    payment is not confirmed yet, or it does not fit beside what was taken back so far
    (an earlier refund that is about to fail still counts)."""
    known = (
        reference in donation.refunds
        or reference in donation.failed_refunds
        or donation.disputes.get(reference) in ("won", "lost")
    )
    return not known and (
        not donation.money_can_leave
        or donation.taken_back_cents + amount_cents > donation.amount_cents
    )


def check_money_back(donation: "Donation", amount_cents: int, what: str) -> None:
    """Money leaves a gift again (a refund, a lost dispute) only once its payment is confirmed,
    and never more than the gift in all."""
    check_amount("amount", amount_cents)
    if not donation.money_can_leave:
        raise NotConfirmedError(donation.status, what)
    if donation.taken_back_cents + amount_cents > donation.amount_cents:
        raise BeyondTheGiftError(donation.taken_back_cents + amount_cents, donation.amount_cents)


def check_correction(donation: "Donation", amount_cents: int, value_date: date, reason: str) -> str:
    """A correction changes the amount or the date, says why, and never goes below what already
    left the gift; returns the reason as it is kept."""
    check_amount("amount", amount_cents)
    check_date("value_date", value_date)
    check_text("reason", reason, multiline=True)
    if amount_cents < donation.taken_back_cents:
        raise BelowMoneyBackError()
    if not reason.strip():
        raise InvalidInputError(N_("a correction needs its reason"), {"reason": [N_("required")]})
    if (amount_cents, value_date) == (donation.amount_cents, donation.value_date):
        raise NothingToCorrectError()
    return reason.strip()


class NotConfirmedError(ConflictError):
    def __init__(self, status: str, what: str) -> None:
        self.status = status
        super().__init__(
            N_(
                "the payment is %(status)s, not confirmed: no %(what)s yet",
                status=status,
                what=what,
            )
        )


class BeyondTheGiftError(ConflictError):
    def __init__(self, back_cents: int, gift_cents: int) -> None:
        self.back_cents, self.gift_cents = back_cents, gift_cents
        super().__init__(
            N_(
                "refunds and lost disputes would exceed the gift: %(back)s > %(gift)s cents",
                back=back_cents,
                gift=gift_cents,
            )
        )


class BelowMoneyBackError(ConflictError):
    def __init__(self) -> None:
        super().__init__(
            N_("the corrected amount is below what was already refunded or lost in disputes")
        )


class NothingToCorrectError(InvalidInputError):
    def __init__(self) -> None:
        super().__init__(N_("nothing to correct: same amount and date"))
