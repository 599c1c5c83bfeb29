"""StandCollection: a piazza stand's day, from the first giver tallied to the agreed count of its
cash (the cash paid into the bank is a BankDeposit, ledger/deposit.py)."""

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.bounds import (
    MAX_PIECES,
    amount_problem,
    check_amount,
    check_text,
    count_problem,
    date_problem,
    max_gift_cents,
    text_problem,
)
from ledger.errors import ConflictError, NotFoundError, invalid_field, raise_problems
from ledger.gift import DISTRICTS
from ledger.keys import natural_id

# Notes from €500 down to 1-cent coins, in cents.
DENOMINATIONS = (50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1)
OPEN, CLOSED = "open", "closed"


def count_total(denominations: dict[int, int]) -> int:
    return sum(value * pieces for value, pieces in denominations.items())


class StandCollection(Aggregate):
    """One stand on one day at one place; every tap, named gift and count is an event."""

    class Opened(Aggregate.Created):
        campaign: str
        place: str
        comune: str
        district: str
        day: date
        volunteers: list[str]

    class GiftTallied(Aggregate.Event):
        """One giver tapped. `amount_cents` is what a volunteer's chip said ("+1 · € 5,00"),
        or None for a plain +1: no figure uses it (a stand's cash is its agreed count), but
        the stand reads it to refuse a tap resent with another amount, and stored taps carry
        it, so it stays."""

        entry_id: str
        amount_cents: int | None

    class TallyUndone(Aggregate.Event):
        entry_id: str

    class NamedGiftLogged(Aggregate.Event):
        entry_id: str
        amount_cents: int
        identified: bool
        sealed_donor: str

    class CashCounted(Aggregate.Event):
        counter: str
        denominations: dict[str, int]
        total_cents: int

    class Closed(Aggregate.Event):
        counted_cents: int
        named_cents: int
        anonymous_cents: int
        tallied: int
        named: int

    @staticmethod
    def create_id(
        campaign: str,
        place: str,
        comune: str,
        district: str,
        day: date,  # type: ignore[override]
        volunteers: list[str],
    ) -> UUID:
        return natural_id("stand", f"{campaign}|{place.lower()}|{comune.lower()}|{day}")

    @event(Opened)
    def __init__(
        self,
        campaign: str,
        place: str,
        comune: str,
        district: str,
        day: date,
        volunteers: list[str],
    ) -> None:
        self.campaign = campaign
        self.place = place
        self.comune = comune
        self.district = district
        self.day = day
        self.volunteers = volunteers
        self.tallies: dict[str, int | None] = {}
        self.undone: set[str] = set()
        self.named: dict[str, tuple[int, bool, str]] = {}
        self.counts: list[tuple[str, dict[int, int], int]] = []
        self.status = OPEN
        self.closing: dict[str, int] = {}

    # Giving

    def _require_open(self) -> None:
        if self.status != OPEN:
            raise ConflictError("il banchetto è già chiuso (the stand is closed)")

    def tally(self, entry_id: str, amount_cents: int | None = None) -> bool:
        """One more giver; False when this entry was already received, a ConflictError when it
        was received with another amount (a resend never changes what a tap said)."""
        if entry_id in self.tallies:
            if self.tallies[entry_id] != amount_cents:
                raise ConflictError(f"tap {entry_id} was received with another amount")
            return False
        self._require_open()
        check_text("entry_id", entry_id)
        if amount_cents is not None:
            check_amount("amount_cents", amount_cents)
        self._tallied(entry_id=entry_id, amount_cents=amount_cents)
        return True

    @event(GiftTallied)
    def _tallied(self, entry_id: str, amount_cents: int | None) -> None:
        self.tallies[entry_id] = amount_cents

    def undo_tally(self, entry_id: str) -> bool:
        """Take back one tap (a compensating event); False when it was already taken back."""
        if entry_id not in self.tallies:
            raise NotFoundError(f"no tap {entry_id} on this stand")
        if entry_id in self.undone:
            return False
        self._require_open()
        self._undone(entry_id=entry_id)
        return True

    @event(TallyUndone)
    def _undone(self, entry_id: str) -> None:
        self.undone.add(entry_id)

    @property
    def tallied(self) -> int:
        return len(self.tallies) - len(self.undone)

    def gift_key(self, entry_id: str) -> str:
        """The source key of the Donation a named gift becomes when the stand closes."""
        return f"stand:{self.id}:{entry_id}"

    @property
    def tally_key(self) -> str:
        return f"stand:{self.id}:tally"

    def log_named_gift(
        self, entry_id: str, amount_cents: int, identified: bool, sealed_donor: str
    ) -> bool:
        if entry_id in self.named:
            # The sealed details differ on every sealing: the figures say if it is a resend.
            if self.named[entry_id][:2] != (amount_cents, identified):
                raise ConflictError(f"named gift {entry_id} was received with other figures")
            return False
        self._require_open()
        self._named_gift_logged(
            entry_id=entry_id,
            amount_cents=amount_cents,
            identified=identified,
            sealed_donor=sealed_donor,
        )
        return True

    @event(NamedGiftLogged)
    def _named_gift_logged(
        self, entry_id: str, amount_cents: int, identified: bool, sealed_donor: str
    ) -> None:
        self.named[entry_id] = (amount_cents, identified, sealed_donor)

    @property
    def named_cents(self) -> int:
        return sum(amount for amount, _identified, _sealed in self.named.values())

    # Counting and closing

    def count_cash(self, counter: str, denominations: dict[int, int]) -> int:
        self._require_open()
        check_text("counter", counter)
        if not counter.strip():
            raise invalid_field("counter", "who counted? (chi ha contato?)")
        unknown = [str(value) for value in denominations if value not in DENOMINATIONS]
        if unknown:
            raise invalid_field("denominations", f"unknown denominations: {', '.join(unknown)}")
        for value, pieces in denominations.items():
            if problem := count_problem(pieces, 0, MAX_PIECES):
                raise invalid_field("denominations", f"pieces of {value} cents: {problem}")
        total = count_total(denominations)
        if total > max_gift_cents():
            raise invalid_field(
                "denominations",
                f"the count comes to {total} cents: {amount_problem(total)}; ricontate (recount)",
            )
        self._counted(
            counter=counter.strip(),
            denominations={str(v): n for v, n in sorted(denominations.items()) if n},
            total_cents=total,
        )
        return total

    @event(CashCounted)
    def _counted(self, counter: str, denominations: dict[str, int], total_cents: int) -> None:
        self.counts.append((counter, {int(v): n for v, n in denominations.items()}, total_cents))

    def agreed_count(self) -> int:
        """The total two different volunteers agree on (their latest counts)."""
        latest: dict[str, int] = {}
        for counter, _denominations, total in self.counts:
            latest.pop(counter.lower(), None)
            latest[counter.lower()] = total
        if len(latest) < 2:
            raise ConflictError(
                "servono i conteggi di due volontari diversi (two volunteers must each count)"
            )
        first, second = list(latest.values())[-2:]
        if first != second:
            raise ConflictError(
                f"i due conteggi non coincidono: {first} e {second} centesimi, differenza "
                f"{abs(first - second)} (the two counts differ by {abs(first - second)} cents)"
            )
        return first

    def close(self) -> tuple[int, int]:
        """Close with the agreed count; returns (anonymous cents, tallied givers)."""
        self._require_open()
        counted = self.agreed_count()
        named = self.named_cents
        if counted < named:
            raise ConflictError(
                f"il contante contato ({counted} centesimi) è meno dei doni nominativi "
                f"({named} centesimi): ricontate (counted cash is below the named gifts)"
            )
        self._closed(
            counted_cents=counted,
            named_cents=named,
            anonymous_cents=counted - named,
            tallied=self.tallied,
            named=len(self.named),
        )
        return counted - named, self.tallied

    @event(Closed)
    def _closed(
        self, counted_cents: int, named_cents: int, anonymous_cents: int, tallied: int, named: int
    ) -> None:
        self.status = CLOSED
        self.closing = {
            "counted_cents": counted_cents,
            "named_cents": named_cents,
            "anonymous_cents": anonymous_cents,
            "tallied": tallied,
            "named": named,
        }

    def require_closed_for_deposit(self) -> None:
        """Cash goes to the bank only from a stand whose count is closed."""
        if self.status != CLOSED:
            raise ConflictError(f"close the stand {self.place} before its deposit")

    def state(self) -> dict[str, Any]:
        """What a phone needs to show, as plain data."""
        return {
            "id": str(self.id),
            "campaign": self.campaign,
            "place": self.place,
            "comune": self.comune,
            "district": self.district,
            "day": self.day.isoformat(),
            "volunteers": list(self.volunteers),
            "status": self.status,
            "tallied": self.tallied,
            "named": len(self.named),
            "named_cents": self.named_cents,
            "counts": [{"counter": c, "total_cents": t} for c, _d, t in self.counts],
            "closing": dict(self.closing) or None,
        }


def check_opening(
    campaign: str, place: str, comune: str, district: str, day: date, volunteers: list[str]
) -> list[str]:
    """The rules a stand's opening must meet, all reported at once; returns the volunteers'
    names as the stand keeps them."""
    problems: dict[str, list[str]] = {}
    if not place.strip():
        problems["place"] = ["where is the stand? (piazza)"]
    if not comune.strip():
        problems["comune"] = ["which comune?"]
    if district not in DISTRICTS:
        problems["district"] = [f"one of {', '.join(DISTRICTS)}"]
    names = [v.strip() for v in volunteers if v.strip()]
    if not names:
        problems["volunteers"] = ["at least one volunteer"]
    for field, problem in [
        ("campaign", text_problem(campaign)),
        ("place", text_problem(place)),
        ("comune", text_problem(comune)),
        ("day", date_problem(day)),
        *(("volunteers", text_problem(v)) for v in volunteers),
    ]:
        if problem:
            problems[field] = [problem]
    raise_problems(problems)
    return names
