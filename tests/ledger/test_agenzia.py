"""The Agenzia delle Entrate file: the layout tiles every record, each value sits where the
table says, and only traceable gifts of natural persons who did not oppose are sent."""

import csv
import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from ledger.agenzia import (
    LAYOUT,
    RECORD_LENGTH,
    choose_transmission,
    fields_of,
    render,
)
from ledger.errors import InvalidInputError
from ledger.gift import Gift
from ledger.identity import DonorDetails
from ledger.payments import DISPUTE_CLOSED, PaymentNotice
from projections import receipts as receipts_view
from projections.store import LedgerStore
from tests.helpers import GIOVANNI, GIUSEPPE, MARIA, start_campaigns
from web.receipts import accountant_csv, agenzia_export

COMPANY = "0074311015" + luhn.calc_check_digit("0074311015")  # a valid partita IVA


def field(line: str, record: str, name: str) -> str:
    [wanted] = [f for f in fields_of(record) if f.name == name]
    return line[wanted.start - 1 : wanted.end]


@pytest.mark.parametrize("record", ["0", "1", "2", "9"])
def test_each_record_is_tiled_by_its_fields_without_gap_or_overlap(record: str) -> None:
    position = 1
    for each in fields_of(record):
        assert each.start == position, each.name
        position = each.end + 1
    assert position - 1 == RECORD_LENGTH
    assert {f.record for f in LAYOUT} == {"0", "1", "2", "9"}


@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.integers(min_value=0, max_value=10**15 - 1),
    st.integers(1900, 2999),
)
def test_any_value_lands_in_its_field_and_the_record_keeps_its_length(
    name: str, cents: int, year: int
) -> None:
    header = render("0", {"denominazione_ente": name, "anno_riferimento": year})
    assert len(header) == RECORD_LENGTH + 2 and header.endswith("A\r\n")
    assert header.isascii()
    assert field(header, "0", "anno_riferimento") == f"{year:04d}"
    assert field(header, "0", "denominazione_ente").rstrip() == (
        name.upper().encode("ascii", "replace").decode().replace("?", " ")[:60].rstrip()
    )
    detail = render("1", {"codice_fiscale_erogante": MARIA, "importo_erogazioni": cents})
    assert int(field(detail, "1", "importo_erogazioni")) == cents


def test_an_amount_too_large_for_its_field_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        render("1", {"importo_erogazioni": 10**15})


def gift(key: str, amount: int, on: date, method: str = "card", **who: str) -> Gift:
    return Gift(
        source_key=key,
        campaign="fare-legami-anni-2-3" if on.year > 2015 else "fare-legami-anno-1",
        amount_cents=amount,
        value_date=on,
        channel="stand" if method == "cash" else "online",
        method=method,
        details=DonorDetails.parse(**who),
        privacy_consent=True,
    )


@pytest.fixture
def year_2016(store: LedgerStore, monkeypatch: pytest.MonkeyPatch) -> LedgerStore:
    monkeypatch.setenv("LEDGER_FOUNDATION_TAX_CODE", "93012345678")
    monkeypatch.setenv(
        "LEDGER_FOUNDATION_NAME", "Fondazione Comunitaria della Provincia di Cremona ONLUS"
    )
    start_campaigns(store)
    store.app.record_gifts(
        [
            gift("m1", 5000, date(2016, 9, 1), tax_code=MARIA, last_name="Colombo"),
            gift("m2", 2500, date(2016, 12, 31), "bank_transfer", tax_code=MARIA),
            gift("m3", 1000, date(2016, 10, 2), "cash", tax_code=MARIA),
            gift("m-2017", 9900, date(2017, 1, 1), tax_code=MARIA),
            gift("no-cf", 3000, date(2016, 9, 3), email="anna@example.org"),
            gift(
                "company",
                20000,
                date(2016, 9, 4),
                "bank_transfer",
                tax_code=COMPANY,
                organization="Latteria Soresina",
            ),
            gift("opposed", 4000, date(2016, 9, 5), tax_code=GIUSEPPE, last_name="De Luca"),
            gift("old", 10000, date(2015, 11, 5), tax_code=GIOVANNI, last_name="Barbieri"),
        ]
    )
    store.app.refund("old", "manual:r1", 3000, date(2016, 2, 1), "richiesta del donatore")
    store.runner.catch_up()
    with store.database.reading() as session:
        giuseppe = receipts_view.find_donor(session, GIUSEPPE)
    assert choose_transmission(store.app, giuseppe, 2016, True, "e-mail del 3/1/2017", "staff")
    store.runner.catch_up()  # documents read the read models as they are (the caller's policy)
    return store


def test_the_file_sends_traceable_gifts_per_donor_and_refunds_with_their_year(
    year_2016: LedgerStore,
) -> None:
    text, _lines = agenzia_export(year_2016, 2016)
    lines = text.split("\r\n")
    assert lines[-1] == "" and all(len(line) == RECORD_LENGTH for line in lines[:-1])
    header, *details, trailer = lines[:-1]
    assert field(header, "0", "tipo_record") == "0"
    assert field(header, "0", "codice_fiscale_ente").strip() == "93012345678"
    assert field(header, "0", "denominazione_ente").strip() == (
        "FONDAZIONE COMUNITARIA DELLA PROVINCIA DI CREMONA ONLUS"
    )
    assert field(header, "0", "anno_riferimento") == "2016"
    assert field(header, "0", "tipologia_ente") == "1"
    assert [
        (field(d, "1", "codice_fiscale_erogante").strip(), int(field(d, "1", "importo_erogazioni")))
        for d in details
        if d[0] == "1"
    ] == [(MARIA, 7500)]  # cash, 2017, no tax code, company and the opposed donor left out
    assert [
        (
            field(d, "2", "codice_fiscale_rimborsato").strip(),
            int(field(d, "2", "importo_rimborso")),
            field(d, "2", "anno_erogazione_rimborsata"),
        )
        for d in details
        if d[0] == "2"
    ] == [(GIOVANNI, 3000, "2015")]
    assert (
        int(field(trailer, "9", "numero_record_erogazioni")),
        int(field(trailer, "9", "numero_record_rimborsi")),
    ) == (1, 1)
    # Absolute positions as the table states them today (1-based, inclusive).
    assert details[0][1:17].strip() == MARIA and details[0][17:32] == "000000000007500"


def test_a_dispute_lost_to_a_chargeback_is_sent_as_a_refund_of_its_gift(
    year_2016: LedgerStore,
) -> None:
    lost = PaymentNotice(DISPUTE_CLOSED, date(2016, 11, 2), "dp_1", 1500, outcome="lost")
    assert year_2016.app.notify_payment("m1", lost)
    year_2016.runner.catch_up()
    text, _lines = agenzia_export(year_2016, 2016)
    refunds = [
        (
            field(d, "2", "codice_fiscale_rimborsato").strip(),
            int(field(d, "2", "importo_rimborso")),
            field(d, "2", "anno_erogazione_rimborsata"),
        )
        for d in text.split("\r\n")
        if d[:1] == "2"
    ]
    assert sorted(refunds) == sorted([(GIOVANNI, 3000, "2015"), (MARIA, 1500, "2016")])


def test_the_accountant_csv_shows_every_amount_and_why_it_was_left_out(
    year_2016: LedgerStore,
) -> None:
    _text, lines = agenzia_export(year_2016, 2016)
    body = accountant_csv(2016, lines)
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body[1:]), delimiter=";"))
    got = {
        (r["tipo"], r["codice_fiscale"], r["importo"], r["trasmesso"], r["motivo_esclusione"])
        for r in rows
    }
    assert got == {
        ("erogazione", MARIA, "75,00", "sì", ""),
        ("erogazione", MARIA, "10,00", "no", "contanti: non tracciabile"),
        ("erogazione", "", "30,00", "no", "senza codice fiscale"),
        (
            "erogazione",
            COMPANY,
            "200,00",
            "no",
            "ente o impresa (partita IVA): solo persone fisiche",
        ),
        ("erogazione", GIUSEPPE, "40,00", "no", "il donatore si è opposto alla trasmissione"),
        ("rimborso", GIOVANNI, "30,00", "sì", ""),
    }
    assert {r["anno_erogazione"] for r in rows if r["tipo"] == "rimborso"} == {"2015"}


def test_a_withdrawn_opposition_sends_the_donor_again(year_2016: LedgerStore) -> None:
    with year_2016.database.reading() as session:
        giuseppe = receipts_view.find_donor(session, GIUSEPPE)
    assert choose_transmission(year_2016.app, giuseppe, 2016, False, "telefonata", "staff")
    assert not choose_transmission(year_2016.app, giuseppe, 2016, False, "di nuovo", "staff")
    year_2016.runner.catch_up()
    text, _lines = agenzia_export(year_2016, 2016)
    assert f"1{GIUSEPPE}000000000004000" in text
    with pytest.raises(InvalidInputError):
        choose_transmission(year_2016.app, giuseppe, 2016, True, " ", "staff")


def test_without_the_foundations_tax_code_the_file_is_refused(
    store: LedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_FOUNDATION_TAX_CODE", raising=False)
    with pytest.raises(InvalidInputError, match="LEDGER_FOUNDATION_TAX_CODE"):
        agenzia_export(store, 2016)
