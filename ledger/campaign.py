"""Campaign: a fundraising drive with a target and a period."""

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

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

    def check_gift_day(self, day: date) -> None:
        """Refuse a stand dated outside the campaign (see `takes_gifts_on`)."""
        if takes_gifts_on(day, self.starts_on, self.ends_on, self.ended_on):
            return
        if self.starts_on and day < self.starts_on:
            when = f"inizia il {self.starts_on:%d/%m/%Y} (it starts on {self.starts_on})"
        else:
            last = min(d for d in (self.ends_on, self.ended_on) if d is not None)
            when = f"è finita il {last:%d/%m/%Y} (it ended on {last})"
        raise InvalidInputError(f"campaign: la campagna {self.slug} {when}",
                                {"campaign": [f"la campagna {when}"]})


def takes_gifts_on(day: date, starts_on: date | None, ends_on: date | None,
                   ended_on: date | None) -> bool:
    """A campaign takes gifts from its start to its planned end, and not after the day it was
    ended: the one rule for what /donate offers and which campaigns a new stand may serve."""
    return not ((starts_on and day < starts_on) or (ends_on and day > ends_on)
                or (ended_on and day > ended_on))


def check_campaign(slug: str, name: str, target_cents: int, starts_on: date | None,
                   ends_on: date | None) -> None:
    """The rules a new campaign must meet, all reported at once."""
    problems: dict[str, list[str]] = {}
    if not slug or not all(c.isalnum() or c == "-" for c in slug) or slug != slug.lower():
        problems["slug"] = ["use lower-case letters, digits and '-' only"]
    if not name.strip():
        problems["name"] = ["a campaign needs a name"]
    if target_cents < 0:
        problems["target"] = ["the target cannot be negative"]
    if starts_on and ends_on and ends_on < starts_on:
        problems["ends"] = ["the campaign ends before it starts"]
    if problems:
        raise InvalidInputError(
            "; ".join(f"{field}: {m}" for field, ms in problems.items() for m in ms), problems
        )
