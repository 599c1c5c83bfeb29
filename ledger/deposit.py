"""BankDeposit: the cash of closed stands paid into the bank, keyed by the bank's reference."""

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from ledger.bounds import MAX_TARGET_CENTS, amount_problem, date_problem, text_problem
from ledger.errors import raise_problems
from ledger.keys import natural_id
from ledger.texts import N_


class BankDeposit(Aggregate):
    """Cash of one or several closed stands paid into the bank, keyed by the bank's reference."""

    class Recorded(Aggregate.Created):
        reference: str
        amount_cents: int
        on: date
        stands: list[str]

    @staticmethod
    def create_id(
        reference: str,
        amount_cents: int,
        on: date,  # type: ignore[override]
        stands: list[str],
    ) -> UUID:
        return natural_id("deposit", reference.strip().upper())

    @event(Recorded)
    def __init__(self, reference: str, amount_cents: int, on: date, stands: list[str]) -> None:
        self.reference = reference
        self.amount_cents = amount_cents
        self.on = on
        self.stands = stands


def check_deposit(reference: str, amount_cents: int, on: date, stand_ids: list[UUID]) -> None:
    """The rules a bank deposit must meet, all reported at once."""
    problems: dict[str, list[str]] = {}
    if problem := text_problem(reference):
        problems["reference"] = [problem]
    elif not reference.strip():
        problems["reference"] = [N_("the bank's reference (CRO/TRN) of the deposit")]
    # One deposit may pool the cash of many stands: bounded like a campaign's target.
    if problem := amount_problem(amount_cents, most=MAX_TARGET_CENTS):
        problems["amount_cents"] = [problem]
    if problem := date_problem(on):
        problems["on"] = [problem]
    if not stand_ids:
        problems["stands"] = [N_("choose the stands whose cash was deposited")]
    raise_problems(problems)


# Deposits were recorded as `ledger.stand:BankDeposit` until the class moved here. Stored
# events keep the topic they were written with, so that topic still names this class.
register_topic("ledger.stand:BankDeposit", BankDeposit)
