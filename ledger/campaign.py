"""Campaign: a fundraising drive with a target and a period."""

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.bounds import (
    CAMPAIGN_YEARS_AHEAD,
    MAX_TARGET_CENTS,
    amount_problem,
    check,
    date_problem,
    text_problem,
)
from ledger.errors import invalid_field, raise_problems
from ledger.keys import natural_id
from ledger.texts import N_, Text


class Campaign(Aggregate):
    """One campaign per slug; its target and end are changed by new events, never edited."""

    class Started(Aggregate.Created):
        slug: str
        name: str
        target_cents: int
        starts_on: date | None
        ends_on: date | None

    class TargetChanged(Aggregate.Event):
        target_cents: int

    class Ended(Aggregate.Event):
        on: date

    class ExpenseRecorded(Aggregate.Event):
        """A cost of the campaign's fundraising, for its report (rendiconto)."""

        slug: str
        amount_cents: int
        on: date
        what: str
        by: str

    @staticmethod
    def create_id(slug: str) -> UUID:  # type: ignore[override]
        return natural_id("campaign", slug)

    @event(Started)
    def __init__(
        self, slug: str, name: str, target_cents: int, starts_on: date | None, ends_on: date | None
    ) -> None:
        self.slug = slug
        self.name = name
        self.target_cents = target_cents
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.ended_on: date | None = None
        self.expenses: set[tuple[date, str, int]] = set()

    @event(TargetChanged)
    def change_target(self, target_cents: int) -> None:
        self.target_cents = target_cents

    @event(Ended)
    def end(self, on: date) -> None:
        self.ended_on = on

    def record_expense(self, amount_cents: int, on: date, what: str, by: str) -> bool:
        """Record an expense once: the same day, text and amount again is a resend."""
        problems: dict[str, list[str]] = {}
        # An expense is bounded like a target: one invoice may pay for a whole campaign.
        if problem := amount_problem(amount_cents, most=MAX_TARGET_CENTS):
            problems["amount"] = [problem]
        if problem := date_problem(on, CAMPAIGN_YEARS_AHEAD):
            problems["on"] = [problem]
        if problem := text_problem(what, multiline=True):
            problems["what"] = [problem]
        elif not what.strip():
            problems["what"] = [N_("say what was paid for")]
        raise_problems(problems)
        if (on, " ".join(what.split()), amount_cents) in self.expenses:
            return False
        self._expense_recorded(
            slug=self.slug, amount_cents=amount_cents, on=on, what=" ".join(what.split()), by=by
        )
        return True

    @event(ExpenseRecorded)
    def _expense_recorded(self, slug: str, amount_cents: int, on: date, what: str, by: str) -> None:
        self.expenses.add((on, what, amount_cents))

    @property
    def is_open(self) -> bool:
        return self.ended_on is None

    def check_gift_day(self, day: date) -> None:
        """Refuse a stand dated outside the campaign (see `takes_gifts_on`)."""
        if takes_gifts_on(day, self.starts_on, self.ends_on, self.ended_on):
            return
        if self.starts_on and day < self.starts_on:
            when = N_("the campaign starts on %(day)s", day=self.starts_on)
        else:
            last = min(d for d in (self.ends_on, self.ended_on) if d is not None)
            when = N_("the campaign ended on %(day)s", day=last)
        raise invalid_field("campaign", when)


def takes_gifts_on(
    day: date, starts_on: date | None, ends_on: date | None, ended_on: date | None
) -> bool:
    """A campaign takes gifts from its start to its planned end, and not after the day it was
    ended: the one rule for what /donate offers and which campaigns a new stand may serve."""
    return not (
        (starts_on and day < starts_on)
        or (ends_on and day > ends_on)
        or (ended_on and day > ended_on)
    )


def check_campaign(
    slug: str, name: str, target_cents: int, starts_on: date | None, ends_on: date | None
) -> None:
    """The rules a new campaign must meet, all reported at once."""
    problems: dict[str, list[str]] = {}
    if not slug or not all(c.isalnum() or c == "-" for c in slug) or slug != slug.lower():
        problems["slug"] = [N_("use lower-case letters, digits and '-' only")]
    if problem := text_problem(name):
        problems["name"] = [problem]
    elif not name.strip():
        problems["name"] = [N_("a campaign needs a name")]
    if problem := target_problem(target_cents):
        problems["target"] = [problem]
    for field, day in (("starts", starts_on), ("ends", ends_on)):
        if day is not None and (problem := date_problem(day, CAMPAIGN_YEARS_AHEAD)):
            problems[field] = [problem]
    if starts_on and ends_on and ends_on < starts_on:
        problems["ends"] = [N_("the campaign ends before it starts")]
    raise_problems(problems)


def target_problem(target_cents: object) -> Text | None:
    """Why a target cannot be accepted: none (0) up to € 1.000.000.000,00."""
    if isinstance(target_cents, int) and not isinstance(target_cents, bool) and target_cents < 0:
        return N_("the target cannot be negative")
    return amount_problem(target_cents, least=0, most=MAX_TARGET_CENTS)


def check_campaign_day(field: str, day: date) -> None:
    """A campaign's dates are planned ahead: up to five years from today."""
    check(field, date_problem(day, CAMPAIGN_YEARS_AHEAD))
