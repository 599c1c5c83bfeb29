"""Cash counts at a stand: the denominations, a count's total, and the reasons a count or a
close is refused (each error carries its figures, so the page can say them in its language)."""

from ledger.errors import ConflictError
from ledger.texts import N_

# Notes from €500 down to 1-cent coins, in cents.
DENOMINATIONS = (50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1)


def count_total(denominations: dict[int, int]) -> int:
    return sum(value * pieces for value, pieces in denominations.items())


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
