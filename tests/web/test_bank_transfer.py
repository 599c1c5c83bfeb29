"""Giving by bank transfer: /donate shows the foundation's IBAN, checked with python-stdnum."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInputError
from tests.helpers import CURRENT, make_app
from web import create_app
from web.bank import checked_iban

# The example IBAN of the Italian banking association (CIN X, ABI 05428, CAB 11101).
IBAN = "IT60X0542811101000000123456"


def test_an_iban_is_kept_compact_and_shown_grouped_by_four(store_url: str) -> None:
    app = make_app(
        store_url, STRIPE_SECRET_KEY=None, LEDGER_IBAN="it60 x054 2811 1010 0000 0123 456"
    )
    page = app.test_client().get("/donate/").get_data(as_text=True)
    assert app.config["LEDGER_IBAN"] == IBAN
    assert "IT60 X054 2811 1010 0000 0123 456" in page
    assert "Fondazione Comunitaria della Provincia di Cremona ONLUS" in page
    # A reference for each campaign the form offers: the one running today, not the ended ones.
    assert f"Erogazione liberale {CURRENT} - nome e codice fiscale" in page
    for ended in ("fare-legami-anno-1", "fare-legami-anni-2-3"):
        assert f"Erogazione liberale {ended} " not in page
    # Without card payments the transfer comes first, before the form.
    assert page.index('class="panel bank prominent"') < page.index('<form method="post"')
    app.extensions["ledger_store"].close()


def test_with_cards_the_transfer_still_shows_after_the_form(store_url: str) -> None:
    app = make_app(store_url, STRIPE_SECRET_KEY="sk_test_fondo", LEDGER_IBAN=IBAN)
    page = app.test_client().get("/donate/?lang=en").get_data(as_text=True)
    assert "Give by bank transfer" in page and "prominent" not in page
    assert page.index('class="panel bank"') > page.index('<form method="post"')
    app.extensions["ledger_store"].close()


def test_without_an_iban_there_is_no_bank_section(store_url: str) -> None:
    app = make_app(store_url, STRIPE_SECRET_KEY=None, LEDGER_IBAN=None)
    assert "IBAN" not in app.test_client().get("/donate/").get_data(as_text=True)
    app.extensions["ledger_store"].close()


@given(st.integers(4, len(IBAN) - 1), st.integers(1, 9))
def test_any_single_digit_typo_is_refused(position: int, shift: int) -> None:
    if not IBAN[position].isdigit():
        return
    typo = IBAN[:position] + str((int(IBAN[position]) + shift) % 10) + IBAN[position + 1 :]
    with pytest.raises(InvalidInputError, match="LEDGER_IBAN is not a valid IBAN"):
        checked_iban(typo)


def test_the_site_refuses_to_start_with_a_wrong_iban(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_IBAN", "IT60X0542811101000000123457")
    with pytest.raises(InvalidInputError, match="LEDGER_IBAN"):
        create_app({"TESTING": True, "SECRET_KEY": "t", "LEDGER_DATABASE_URL": sqlite_url})


def test_the_thank_you_page_says_what_happens_next(store_url: str) -> None:
    app = make_app(store_url)
    page = app.test_client().get("/donate/grazie").get_data(as_text=True)
    assert "E adesso?" in page and "ricevuta in PDF" in page and "16 marzo" in page
    app.extensions["ledger_store"].close()
