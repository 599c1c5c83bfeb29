"""Cash counts at a stand: the denominations, a count's total, the rules a count and the
agreement of two counts meet, and the reasons a count or a close is refused (each error
carries its figures, so the page can say them in its language)."""

from ledger.bounds import MAX_PIECES, amount_problem, count_problem, max_gift_cents
from ledger.errors import ConflictError, invalid_field
from ledger.texts import N_

# Notes from €500 down to 1-cent coins, in cents.
DENOMINATIONS = (50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1)

# One count as a stand keeps it: who counted, pieces per denomination (cents), the total.
Count = tuple[str, dict[int, int], int]


def count_total(denominations: dict[int, int]) -> int:
    return sum(value * pieces for value, pieces in denominations.items())


def check_pieces(denominations: dict[int, int]) -> int:
    """The pieces of one count, each denomination known and its pieces within bounds;
    returns the count's total."""
    unknown = [str(value) for value in denominations if value not in DENOMINATIONS]
    if unknown:
        raise invalid_field(
            "denominations", N_("unknown denominations: %(values)s", values=", ".join(unknown))
        )
    for value, pieces in denominations.items():
        if problem := count_problem(pieces, 0, MAX_PIECES):
            raise invalid_field(
                "denominations",
                N_("pieces of %(value)s cents: %(problem)s", value=value, problem=problem),
            )
    total = count_total(denominations)
    if total > max_gift_cents():
        raise invalid_field(
            "denominations",
            N_(
                "the count comes to %(total)s cents: %(problem)s; recount",
                total=total,
                problem=amount_problem(total),
            ),
        )
    return total


def check_counter(counts: list[Count], counter: str, recount: bool) -> str:
    """Who counted: someone, and a second count of the same account only as a recount that
    replaces their own; returns the name."""
    if not counter:
        raise invalid_field("counter", N_("who counted?"))
    if not recount and any(c.lower() == counter.lower() for c, _d, _t in counts):
        raise AlreadyCountedError(counter)
    return counter


def replaced_counts(counts: list[Count]) -> set[int]:
    """Positions of the counts their counter has since replaced by a recount."""
    latest = {c.lower(): index for index, (c, _d, _t) in enumerate(counts)}
    return set(range(len(counts))) - set(latest.values())


def agreed_total(counts: list[Count]) -> int:
    """The total two different volunteers agree on (their latest counts)."""
    latest: dict[str, int] = {}
    for counter, _denominations, total in counts:
        latest.pop(counter.lower(), None)
        latest[counter.lower()] = total
    if len(latest) < 2:
        raise CountsMissingError()
    first, second = list(latest.values())[-2:]
    if first != second:
        raise CountsDisagreeError(first, second)
    return first


# Conflicts a stand page explains in its own words (and in euro): each carries its figures.


class StandClosedError(ConflictError):
    def __init__(self) -> None:
        super().__init__(N_("the stand is closed"))


class CountsMissingError(ConflictError):
    def __init__(self) -> None:
        super().__init__(N_("two volunteers must each count"))


class CountsDisagreeError(ConflictError):
    def __init__(self, first: int, second: int) -> None:
        self.first, self.second = first, second
        super().__init__(
            N_(
                "the two counts differ: %(first)s and %(second)s cents, a difference of "
                "%(difference)s",
                first=first,
                second=second,
                difference=abs(first - second),
            )
        )


class CashBelowNamedError(ConflictError):
    def __init__(self, counted: int, named: int) -> None:
        self.counted, self.named = counted, named
        super().__init__(
            N_(
                "the counted cash (%(counted)s cents) is below the named gifts "
                "(%(named)s cents): recount",
                counted=counted,
                named=named,
            )
        )


class AlreadyCountedError(ConflictError):
    """One account's second count is no second count: it may only replace its own."""

    def __init__(self, counter: str) -> None:
        self.counter = counter
        super().__init__(
            N_(
                "%(counter)s already counted: the second count is another volunteer's",
                counter=counter,
            )
        )
