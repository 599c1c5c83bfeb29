"""Italian number words: known spellings, and every number read back from its words."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.in_words import euro_in_words, integer_in_words

# A reader independent of the writer: longest word first, elided tens accepted.
_VALUES = {
    "zero": 0,
    "uno": 1,
    "due": 2,
    "tre": 3,
    "tré": 3,
    "quattro": 4,
    "cinque": 5,
    "sei": 6,
    "sette": 7,
    "otto": 8,
    "nove": 9,
    "dieci": 10,
    "undici": 11,
    "dodici": 12,
    "tredici": 13,
    "quattordici": 14,
    "quindici": 15,
    "sedici": 16,
    "diciassette": 17,
    "diciotto": 18,
    "diciannove": 19,
    "venti": 20,
    "vent": 20,
    "trenta": 30,
    "trent": 30,
    "quaranta": 40,
    "quarant": 40,
    "cinquanta": 50,
    "cinquant": 50,
    "sessanta": 60,
    "sessant": 60,
    "settanta": 70,
    "settant": 70,
    "ottanta": 80,
    "ottant": 80,
    "novanta": 90,
    "novant": 90,
}
_SCALES = {
    "cento": 100,
    "mille": 1000,
    "mila": 1000,
    "unmilione": 10**6,
    "milioni": 10**6,
    "unmiliardo": 10**9,
    "miliardi": 10**9,
}


def read_italian(words: str) -> int:
    tokens = sorted([*_VALUES, *_SCALES], key=len, reverse=True)
    total, group, rest = 0, 0, words
    while rest:
        token = next(t for t in tokens if rest.startswith(t))
        rest = rest[len(token) :]
        if token == "cento":
            group = (group or 1) * 100
        elif token in _SCALES:
            scale = _SCALES[token]
            total += (group or 1) * scale
            group = 0
        else:
            group += _VALUES[token]
    return total + group


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (1, "uno"),
        (3, "tre"),
        (16, "sedici"),
        (21, "ventuno"),
        (23, "ventitré"),
        (28, "ventotto"),
        (80, "ottanta"),
        (100, "cento"),
        (101, "centouno"),
        (103, "centotré"),
        (118, "centodiciotto"),
        (199, "centonovantanove"),
        (1000, "mille"),
        (1001, "milleuno"),
        (2000, "duemila"),
        (2023, "duemilaventitré"),
        (21000, "ventunomila"),
        (30000, "trentamila"),
        (100000, "centomila"),
        (1_000_000, "unmilione"),
        (2_500_000, "duemilionicinquecentomila"),
        (42708, "quarantaduemilasettecentootto"),
    ],
)
def test_known_spellings(number: int, words: str) -> None:
    assert integer_in_words(number) == words


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_every_number_reads_back_from_its_words(number: int) -> None:
    words = integer_in_words(number)
    assert words.isalpha() and words == words.lower()
    assert read_italian(words) == number


def test_euro_in_words_keeps_cents_in_figures() -> None:
    assert euro_in_words(4270800) == "quarantaduemilasettecentootto/00"
    assert euro_in_words(123450) == "milleduecentotrentaquattro/50"
    assert euro_in_words(5) == "zero/05"


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        integer_in_words(-1)
