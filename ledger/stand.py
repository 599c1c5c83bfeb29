"""StandCollection: a piazza stand's day, from the first giver tallied to the cash in the bank."""

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.bounds import check_amount, check_text, date_problem, text_problem
from ledger.cash_count import (
    CashBelowNamedError,
    Count,
    StandClosedError,
    agreed_total,
    check_counter,
    check_pieces,
    count_total,
    replaced_counts,
)
from ledger.errors import ConflictError, NotFoundError, raise_problems
from ledger.gift import DISTRICTS
from ledger.keys import natural_id
from ledger.texts import N_

OPEN, CLOSED = "open", "closed"


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
        entry_id: str

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Counts sent before they carried the phone's id: none can be resent now.
            state["entry_id"] = ""

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
        self.counts: list[Count] = []
        self.count_entries: dict[str, tuple[str, int]] = {}
        self.status = OPEN
        self.closing: dict[str, int] = {}

    # Giving

    def _require_open(self) -> None:
        if self.status != OPEN:
            raise StandClosedError()

    def tally(self, entry_id: str, amount_cents: int | None = None) -> bool:
        """One more giver; False when this entry was already received, a ConflictError when it
        was received with another amount (a resend never changes what a tap said)."""
        if entry_id in self.tallies:
            if self.tallies[entry_id] != amount_cents:
                raise ConflictError(
                    N_("tap %(entry)s was received with another amount", entry=entry_id)
                )
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
            raise NotFoundError(N_("no tap %(entry)s on this stand", entry=entry_id))
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
                raise ConflictError(
                    N_("named gift %(entry)s was received with other figures", entry=entry_id)
                )
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
    def tallied_cents(self) -> int:
        """The amounts some taps carried (a chip): what the page can show before the count."""
        return sum(
            amount or 0 for entry, amount in self.tallies.items() if entry not in self.undone
        )

    @property
    def named_cents(self) -> int:
        return sum(amount for amount, _identified, _sealed in self.named.values())

    # Counting and closing

    def count_cash(
        self,
        counter: str,
        denominations: dict[int, int],
        entry_id: str = "",
        recount: bool = False,
    ) -> int:
        """One volunteer's count; `counter` is who counted (their account). A resent entry is
        a no-op; the same counter counting again must say it replaces their own count."""
        if entry_id and entry_id in self.count_entries:
            if self.count_entries[entry_id] != (counter.strip(), count_total(denominations)):
                raise ConflictError(
                    N_("count %(entry)s was received with other figures", entry=entry_id)
                )
            return self.count_entries[entry_id][1]
        self._require_open()
        check_text("counter", counter)
        check_text("entry_id", entry_id)
        counter = check_counter(self.counts, counter.strip(), recount)
        total = check_pieces(denominations)
        self._counted(
            counter=counter,
            denominations={str(v): n for v, n in sorted(denominations.items()) if n},
            total_cents=total,
            entry_id=entry_id,
        )
        return total

    @event(CashCounted)
    def _counted(
        self, counter: str, denominations: dict[str, int], total_cents: int, entry_id: str
    ) -> None:
        self.counts.append((counter, {int(v): n for v, n in denominations.items()}, total_cents))
        if entry_id:
            self.count_entries[entry_id] = (counter, total_cents)

    def replaced_counts(self) -> set[int]:
        """Positions of the counts their counter has since replaced by a recount."""
        return replaced_counts(self.counts)

    def close(self) -> tuple[int, int]:
        """Close with the agreed count; returns (anonymous cents, tallied givers)."""
        self._require_open()
        counted = agreed_total(self.counts)
        named = self.named_cents
        if counted < named:
            raise CashBelowNamedError(counted, named)
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
            raise ConflictError(
                N_("close the stand %(place)s before its deposit", place=self.place)
            )


def check_opening(
    campaign: str, place: str, comune: str, district: str, day: date, volunteers: list[str]
) -> list[str]:
    """The rules a stand's opening must meet, all reported at once; returns the volunteers'
    names as the stand keeps them."""
    problems: dict[str, list[str]] = {}
    if not place.strip():
        problems["place"] = [N_("where is the stand?")]
    if not comune.strip():
        problems["comune"] = [N_("which comune?")]
    if district not in DISTRICTS:
        problems["district"] = [N_("one of %(choices)s", choices=", ".join(DISTRICTS))]
    names = [v.strip() for v in volunteers if v.strip()]
    if not names:
        problems["volunteers"] = [N_("at least one volunteer")]
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
