"""What a card payment costs the foundation, so a donor may choose to cover it."""

import math
import re
from dataclasses import dataclass

from ledger.errors import InvalidInputError

# Stripe's standard pricing for cards issued in the European Economic Area: 1.5% + € 0.25.
STANDARD_EEA_CARD = "1.5%+0.25"
_PRICING = re.compile(r"\s*(\d{1,2}(?:[.,]\d{1,2})?)\s*%\s*\+\s*(\d(?:[.,]\d{1,2})?)\s*")


@dataclass(frozen=True)
class CardPricing:
    """A percentage (in basis points: 150 is 1.5%) plus a fixed fee in cents per payment."""

    basis_points: int
    fixed_cents: int

    @classmethod
    def parse(cls, text: str) -> "CardPricing":
        """`1.5%+0.25` (percent, plus euro per payment); an error naming the setting otherwise."""
        found = _PRICING.fullmatch(text or "")
        if not found:
            raise InvalidInputError(
                f"LEDGER_CARD_FEE must read like {STANDARD_EEA_CARD!r} (percent + euro), "
                f"not {text!r}"
            )
        percent, fixed = (part.replace(",", ".") for part in found.groups())
        basis_points = round(float(percent) * 100)
        if basis_points >= 2000:
            raise InvalidInputError(f"LEDGER_CARD_FEE: {percent}% is not a card fee")
        return cls(basis_points, round(float(fixed) * 100))

    def covering(self, amount_cents: int) -> int:
        """What to add to `amount_cents` so that, once the processor takes its fee on the
        total, the foundation receives at least `amount_cents`:
        total = ⌈(amount + fixed) / (1 − rate)⌉, and the fee covered is total − amount."""
        total = math.ceil((amount_cents + self.fixed_cents) * 10_000 / (10_000 - self.basis_points))
        return total - amount_cents
