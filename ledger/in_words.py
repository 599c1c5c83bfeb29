"""Amounts in Italian words, as receipts and cheques write them (`duemilaventitré/50`)."""

_UNITS = (
    "zero",
    "uno",
    "due",
    "tre",
    "quattro",
    "cinque",
    "sei",
    "sette",
    "otto",
    "nove",
    "dieci",
    "undici",
    "dodici",
    "tredici",
    "quattordici",
    "quindici",
    "sedici",
    "diciassette",
    "diciotto",
    "diciannove",
)
_TENS = (
    "",
    "",
    "venti",
    "trenta",
    "quaranta",
    "cinquanta",
    "sessanta",
    "settanta",
    "ottanta",
    "novanta",
)


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = "" if hundreds == 0 else "cento" if hundreds == 1 else _UNITS[hundreds] + "cento"
    if rest == 0:
        return words
    if rest < 20:
        return words + _UNITS[rest]
    tens, unit = divmod(rest, 10)
    ten = _TENS[tens]
    if unit in (1, 8):  # venti + uno → ventuno, trenta + otto → trentotto
        ten = ten[:-1]
    return words + ten + (_UNITS[unit] if unit else "")


def integer_in_words(n: int) -> str:
    """0 → `zero`, 21 → `ventuno`, 1000 → `mille`, 2023 → `duemilaventitré`,
    1_000_000 → `unmilione`. Compounds ending in *tre* take the accent (ventitré)."""
    if n < 0:
        raise ValueError("only amounts of zero or more are written in words")
    if n == 0:
        return "zero"
    parts = []
    for size, one, many in (
        (10**9, "unmiliardo", "miliardi"),
        (10**6, "unmilione", "milioni"),
        (10**3, "mille", "mila"),
    ):
        count, n = divmod(n, size)
        if count == 1:
            parts.append(one)
        elif count > 1:
            parts.append(integer_in_words(count) + many)
    if n:
        parts.append(_below_thousand(n))
    words = "".join(parts)
    return words[:-3] + "tré" if words.endswith("tre") and words != "tre" else words


def euro_in_words(cents: int) -> str:
    """`1234,50 €` → `milleduecentotrentaquattro/50`: euro in words, cents in figures."""
    euro, rest = divmod(cents, 100)
    return f"{integer_in_words(euro)}/{rest:02d}"
