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
from ledger.errors import InvalidInputError
from ledger.keys import natural_id


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

    @event(TargetChanged)
    def change_target(self, target_cents: int) -> None:
        self.target_cents = target_cents

    @event(Ended)
    def end(self, on: date) -> None:
        self.ended_on = on

    @property
    def is_open(self) -> bool:
        return self.ended_on is None


def check_campaign(slug: str, name: str, target_cents: int, starts_on: date | None,
                   ends_on: date | None) -> None:
    """The rules a new campaign must meet, all reported at once."""
    problems: dict[str, list[str]] = {}
    if not slug or not all(c.isalnum() or c == "-" for c in slug) or slug != slug.lower():
        problems["slug"] = ["use lower-case letters, digits and '-' only"]
    if problem := text_problem(name):
        problems["name"] = [problem]
    elif not name.strip():
        problems["name"] = ["a campaign needs a name"]
    if problem := target_problem(target_cents):
        problems["target"] = [problem]
    for field, day in (("starts", starts_on), ("ends", ends_on)):
        if day is not None and (problem := date_problem(day, CAMPAIGN_YEARS_AHEAD)):
            problems[field] = [problem]
    if starts_on and ends_on and ends_on < starts_on:
        problems["ends"] = ["the campaign ends before it starts"]
    if problems:
        raise InvalidInputError(
            "; ".join(f"{field}: {m}" for field, ms in problems.items() for m in ms), problems
        )


def target_problem(target_cents: object) -> str | None:
    """Why a target cannot be accepted: none (0) up to € 1.000.000.000,00."""
    if isinstance(target_cents, int) and not isinstance(target_cents, bool) and target_cents < 0:
        return "the target cannot be negative"
    return amount_problem(target_cents, least=0, most=MAX_TARGET_CENTS)


def check_campaign_day(field: str, day: date) -> None:
    """A campaign's dates are planned ahead: up to five years from today."""
    check(field, date_problem(day, CAMPAIGN_YEARS_AHEAD))
