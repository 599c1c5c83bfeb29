"""The back office as staff live in it: paged donations, transfers for known donors, forms
that keep their errors, merges side by side with their undo, Italian exports and times."""

import csv
import io
import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from ledger.bounds import amount_problem, text_problem
from ledger.csv_import import import_donations
from ledger.errors import ConflictError
from ledger.money_back import NotConfirmedError
from ledger.texts import N_
from projections import registry
from projections.registry import consent_source
from tests.helpers import YEAR1, start_campaigns
from web import create_app, store
from web.admin import _conflict, _problem
from web.labels import local_time

GIFT_LINK = re.compile(r'href="/admin/donations/([0-9a-f-]{36})"')


@pytest.fixture
def office(store_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": store_url,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        start_campaigns(store())
        import_donations(store().app, YEAR1 / "donations.csv")
        store().app.add_user("staff@example.org", "staff", "una-password-lunga")
        store().runner.catch_up()
    yield app
    app.extensions["ledger_store"].close()


@pytest.fixture
def staff(office: Flask) -> FlaskClient:
    client = office.test_client()
    signed = client.post(
        "/login", data={"email": "staff@example.org", "password": "una-password-lunga"}
    )
    assert signed.status_code == 302
    return client


def caught_up(app: Flask) -> None:
    with app.app_context():
        store().runner.catch_up()


def find_donor(app: Flask, text: str) -> dict[str, Any]:
    caught_up(app)
    with app.app_context(), store().database.reading() as session:
        return registry.search_donors(session, text)[0]


def registry_count(app: Flask) -> int:
    caught_up(app)
    with app.app_context(), store().database.reading() as session:
        return int(session.scalar("SELECT COUNT(*) FROM registry_donors"))


def page_text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# 9. Donations list


def test_donations_page_through_every_gift_with_count_total_and_names(
    office: Flask, staff: FlaskClient
) -> None:
    url, seen, dates, pages = "/admin/donations", [], [], 0
    raised = sum(
        staff.get(f"/api/v1/campaigns/{slug}/progress").get_json()["raised_cents"]
        for slug in ("fare-legami-anno-1", "fare-legami-anni-2-3")
    )
    first = page_text(staff.get(url))
    assert re.search(r'<strong class="count">520</strong>', first)
    euros = f"{raised // 100:,}".replace(",", ".") + f",{raised % 100:02d}"
    assert f'<strong class="total">€ {euros}</strong>' in first
    while url:
        body = page_text(staff.get(url))
        pages += 1
        seen += GIFT_LINK.findall(body)
        dates += [
            date(int(y), int(m), int(d))
            for d, m, y in re.findall(r"<tr><td>(\d\d)/(\d\d)/(\d{4})</td>", body)
        ]
        found = re.search(r'class="button next-page" href="([^"]+)"', body)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert len(seen) == len(set(seen)) == 520 and pages == 11
    assert dates == sorted(dates, reverse=True)
    everything = "".join(page_text(staff.get(f"/admin/donations/{d}")) for d in seen[:3])
    assert "Fare Legami — anno 1" in first or "Fare Legami — anno 1" in everything
    assert "Fare Legami — anni 2 e 3" in first and "confermata" in first
    assert "online · carta" in first or "banca · bonifico" in first
    assert ">confirmed<" not in first and "bank_transfer" not in first

    bank = page_text(staff.get("/admin/donations?channel=bank&campaign=fare-legami-anno-1"))
    [count] = re.findall(r'<strong class="count">([\d.]+)</strong>', bank)
    assert 0 < int(count.replace(".", "")) < 520
    assert "Maria Colombo" in bank and "banca · bonifico" in bank
    following = re.search(r'class="button next-page" href="([^"]+)"', bank)
    assert following is None or "channel=bank" in following.group(1)


def test_a_gift_recorded_meanwhile_does_not_shift_the_next_page(
    office: Flask, staff: FlaskClient
) -> None:
    first = page_text(staff.get("/admin/donations"))
    [next_url] = re.findall(r'class="button next-page" href="([^"]+)"', first)
    before = GIFT_LINK.findall(page_text(staff.get(next_url)))
    staff.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-NEW",
            "value_date": "2018-06-01",
            "campaign": "fare-legami-anni-2-3",
            "amount": "10,00",
            "email": "nuova@example.org",
        },
    )
    caught_up(office)
    assert GIFT_LINK.findall(page_text(staff.get(next_url))) == before
    assert re.search(
        r'<strong class="count">521</strong>', page_text(staff.get("/admin/donations"))
    )


def test_donations_of_one_donor_name_them(office: Flask, staff: FlaskClient) -> None:
    maria = find_donor(office, "CLMMRA43A53D150K")
    body = page_text(staff.get(f"/admin/donations?donor={maria['donor_id']}"))
    assert "Solo le donazioni di" in body and "Maria Colombo" in body
    gifts = len(GIFT_LINK.findall(body))
    assert re.search(rf'<strong class="count">{gifts}</strong>', body) and gifts >= 1


# 12. Bank transfer for a known donor


def test_bank_transfer_for_a_donor_found_by_search(office: Flask, staff: FlaskClient) -> None:
    maria = find_donor(office, "CLMMRA43A53D150K")
    donors_before = registry_count(office)
    gift = {
        "reference": "CRO 77",
        "value_date": "2017-03-01",
        "campaign": "fare-legami-anni-2-3",
        "amount": "40,00",
        "privacy_consent": "y",
    }
    found = page_text(
        staff.post("/admin/donations/new", data={**gift, "action": "find", "find": "colombo"})
    )
    assert f'name="choose" value="{maria["donor_id"]}"' in found
    assert 'value="CRO 77"' in found  # what was typed stays
    chosen = page_text(
        staff.post("/admin/donations/new", data={**gift, "choose": maria["donor_id"]})
    )
    assert "Donatore già in anagrafica" in chosen and 'name="email"' not in chosen
    recorded = staff.post("/admin/donations/new", data={**gift, "donor": maria["donor_id"]})
    assert recorded.status_code == 302
    assert registry_count(office) == donors_before
    with office.app_context(), store().database.reading() as session:
        gifts = registry.donor_gifts(session, maria["donor_id"])
        consents = registry.donor_consents(session, maria["donor_id"])
    assert [g["amount_cents"] for g in gifts if g["value_date"] == "2017-03-01"] == [4000]
    hows = [c["how"] for c in consents]
    assert "bank:CRO 77" in hows and not [h for h in hows if h.startswith("bank:bank:")]
    preset = page_text(staff.get(f"/admin/donations/new?donor={maria['donor_id']}"))
    assert "Maria Colombo" in preset and 'name="email"' not in preset


def test_consent_source_names_the_channel_once() -> None:
    assert consent_source("bank", "bank:CRO-1") == "bank:CRO-1"
    assert consent_source("online", "stripe:pi_1") == "online:stripe:pi_1"
    assert consent_source("stand", "csv:FL1-000001") == "stand:csv:FL1-000001"


# 11. Forms keep their errors


def error_after(body: str, name: str) -> str:
    """The error shown right after the input named `name` (nothing between but the label)."""
    found = re.search(
        rf'name="{name}"[^>]*>\s*</label>\s*<span class="field-error">([^<]+)</span>', body
    )
    return found.group(1) if found else ""


def test_refund_and_correction_errors_stay_on_the_form(office: Flask, staff: FlaskClient) -> None:
    with office.app_context():
        donation = store().app.find_donation("csv:FL1-000002")
        assert donation is not None
    url = f"/admin/donations/{donation.id}"
    empty = staff.post(url + "/refund", data={"amount": "", "on": "2015-08-01", "reason": "doppio"})
    body = page_text(empty)
    assert empty.status_code == 422 and error_after(body, "amount") == "Campo obbligatorio."
    assert 'value="doppio"' in body and re.search(r"<details class=\"panel\" open>", body)
    too_much = page_text(staff.post(url + "/refund", data={"amount": "900", "reason": "x"}))
    assert error_after(too_much, "amount").startswith("Supera quanto resta")
    wrong = page_text(staff.post(url + "/refund", data={"amount": "dieci", "reason": "x"}))
    assert error_after(wrong, "amount").startswith("Importo non valido")
    bad_day = page_text(
        staff.post(url + "/refund", data={"amount": "5", "on": "31/02", "reason": "x"})
    )
    assert error_after(bad_day, "on") == "Data non valida."
    same = staff.post(
        url + "/correct", data={"amount": "75,00", "value_date": "2015-07-03", "reason": "r"}
    )
    assert same.status_code == 422
    assert error_after(page_text(same), "amount").startswith("Nulla da correggere")
    no_reason = page_text(
        staff.post(url + "/correct", data={"amount": "70", "value_date": "2015-07-03"})
    )
    assert error_after(no_reason, "reason") == "Campo obbligatorio."
    staff.get("/admin/?lang=en")
    english = page_text(staff.post(url + "/refund", data={"amount": "", "reason": "x"}))
    assert error_after(english, "amount") == "This field is required."
    with office.app_context():
        events = store().app.recorder.select_events(donation.id)
    assert [e.topic.rsplit(".", 1)[-1] for e in events] == ["Received"]


def test_bank_transfer_errors_stay_next_to_their_fields(office: Flask, staff: FlaskClient) -> None:
    response = staff.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-9",
            "value_date": "2017-01-10",
            "campaign": "fare-legami-anni-2-3",
            "amount": "12,345",
            "first_name": "Gino",
            "email": "gino@@example",
            "postcode": "01100",
        },
    )
    body = page_text(response)
    assert response.status_code == 422
    assert error_after(body, "email") == "Non è un indirizzo e-mail valido."
    assert error_after(body, "amount").startswith("Importo non valido")
    assert 'value="Gino"' in body and 'value="01100"' in body
    missing = page_text(staff.post("/admin/donations/new", data={"amount": "5"}))
    assert error_after(missing, "reference") == "Campo obbligatorio."
    huge = staff.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-10",
            "value_date": "2017-01-10",
            "campaign": "fare-legami-anni-2-3",
            "amount": "2.000.000,00",
        },
    )
    assert huge.status_code == 422
    assert error_after(page_text(huge), "amount") == "Al massimo € 1.000.000,00."
    gone = staff.post(
        "/admin/donations/new", data={"reference": "CRO-11", "donor": str(uuid.uuid4())}
    )
    assert gone.status_code == 422
    assert error_after(page_text(gone), "find") == "Donatore non trovato: cercalo di nuovo."


def test_refusals_are_worded_by_their_kind_in_the_pages_language(app: Flask) -> None:
    void_first = ConflictError(N_("void receipt %(number)s first", number="2017/000001"))
    with app.test_request_context("/"):
        assert _conflict(NotConfirmedError("pending", "refund")) == (
            "Il pagamento non è confermato: non c'è nulla da rimborsare."
        )
        assert _conflict(void_first) == (
            "Operazione rifiutata: la donazione ha la ricevuta 2017/000001: annullala prima"
        )
        assert _problem("reference", text_problem("CRO\x00")) == (
            "Contiene un carattere di controllo (U+0000) alla posizione 4."
        )
        mistyped = N_("not an e-mail address: %(text)r", text="gino@@example")
        assert _problem("email", mistyped) == "Non è un indirizzo e-mail valido."
    with app.test_request_context("/?lang=en"):
        assert _conflict(void_first) == "Refused: void receipt 2017/000001 first"
        assert _problem("amount", amount_problem(10**12)) == "At most € 1.000.000,00."


def test_gdpr_forms_keep_errors_and_erasure_asks_first(office: Flask, staff: FlaskClient) -> None:
    simone = find_donor(office, "simonebarbieri35@example.net")["donor_id"]
    consent = staff.post(f"/admin/registry/{simone}/consent", data={"marketing": "y"})
    assert consent.status_code == 422
    assert error_after(page_text(consent), "how") == "Campo obbligatorio."
    erase = staff.post(f"/admin/registry/{simone}/erase", data={"reason": " "})
    assert erase.status_code == 422
    assert "Campo obbligatorio." in page_text(erase)
    asked = staff.post(f"/admin/registry/{simone}/erase", data={"reason": "richiesta scritta"})
    body = page_text(asked)
    assert asked.status_code == 200 and "confirm-erase" in body
    assert f'href="/admin/registry/{simone}"' in body and "torna al donatore" in body
    assert find_donor(office, "simonebarbieri35@example.net")["erased"] == 0
    done = staff.post(
        f"/admin/registry/{simone}/erase", data={"reason": "richiesta scritta", "confirmed": "1"}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(simone)
    caught_up(office)
    with office.app_context(), store().database.reading() as session:
        entry = registry.donor(session, simone)
    assert entry is not None and entry["erased"] == 1


# 10. Merge side by side, and its undo


def test_merge_from_duplicates_side_by_side_then_undo(office: Flask, staff: FlaskClient) -> None:
    before = registry_count(office)
    duplicates = page_text(staff.get("/admin/registry/duplicates"))
    first, second = re.findall(
        r'href="/admin/registry/merge\?first=([0-9a-f-]+)&amp;second=([0-9a-f-]+)"', duplicates
    )[0]
    side = page_text(staff.get(f"/admin/registry/merge?first={first}&second={second}"))
    assert side.count('class="panel merge-side"') == 2
    assert side.count('name="survivor"') == 2 and 'type="text"' not in side
    assert side.count('class="donor-gifts"') == 2 and side.count('class="donor-consents"') == 2
    refused = staff.post("/admin/registry/merge", data={"first": first, "second": second})
    assert refused.status_code == 422 and "Campo obbligatorio." in page_text(refused)
    with office.app_context(), store().database.reading() as session:
        gifts = {d: len(registry.donor_gifts(session, d)) for d in (first, second)}
    merged = staff.post(
        "/admin/registry/merge", data={"first": first, "second": second, "survivor": second}
    )
    assert merged.status_code == 302 and merged.headers["Location"].endswith(second)
    assert registry_count(office) == before - 1
    survivor = page_text(staff.get(f"/admin/registry/{second}"))
    assert f'action="/admin/registry/{first}/unmerge"' in survivor
    assert f'<dd class="lifetime-gifts">{gifts[first] + gifts[second]}</dd>' in survivor
    staff.post(
        f"/admin/registry/{second}/consent",
        data={"privacy": "y", "how": "e-mail del 3 marzo", "on": "2017-03-03"},
    )
    # From a donor's page too: search the other one, then the same side-by-side view.
    search = page_text(
        staff.post(f"/admin/registry?compare={second}", data={"q": "CLMMRA43A53D150K"})
    )
    maria = find_donor(office, "CLMMRA43A53D150K")["donor_id"]
    assert f'href="/admin/registry/merge?first={second}&amp;second={maria}"' in search
    undone = staff.post(f"/admin/registry/{first}/unmerge")
    assert undone.status_code == 302
    assert registry_count(office) == before
    with office.app_context(), store().database.reading() as session:
        assert {d: len(registry.donor_gifts(session, d)) for d in (first, second)} == gifts
    audit = page_text(staff.get("/admin/audit"))
    for action in ("Unione di donatori", "Unione annullata", "Cambio di consenso"):
        assert action in audit


# 14. Local times, readable actions


def test_times_are_the_foundations_local_time_in_italian(office: Flask) -> None:
    with office.test_request_context("/admin/"):
        assert local_time("2026-07-01T10:00:00+00:00") == "01/07/2026 12:00"  # CEST
        assert local_time("2026-01-15T23:30:00+00:00") == "16/01/2026 00:30"  # CET, next day
        assert local_time("2026-01-15T23:30:00") == "16/01/2026 00:30"  # UTC when unzoned


def test_audit_page_shows_local_times_and_named_actions(office: Flask, staff: FlaskClient) -> None:
    staff.get("/admin/exports/donors.csv")
    audit = page_text(staff.get("/admin/audit"))
    assert re.search(r'<td class="when">\d\d/\d\d/\d{4} \d\d:\d\d</td>', audit)
    assert '<td class="what">Esportazione donatori (CSV)</td>' in audit
    assert ">export_donors_csv<" not in audit and "+00:00" not in audit


# 15. Lifetime figures and the chart


def test_donor_page_shows_lifetime_figures(office: Flask, staff: FlaskClient) -> None:
    maria = find_donor(office, "CLMMRA43A53D150K")["donor_id"]
    with office.app_context(), store().database.reading() as session:
        gifts = [g for g in registry.donor_gifts(session, maria) if g["status"] == "confirmed"]
    body = page_text(staff.get(f"/admin/registry/{maria}"))
    total = sum(g["amount_cents"] for g in gifts)
    assert f'<dd class="lifetime-gifts">{len(gifts)}</dd>' in body
    assert f'<dd class="lifetime-total">€ {total // 100},{total % 100:02d}</dd>' in body
    first, last = min(g["value_date"] for g in gifts), max(g["value_date"] for g in gifts)
    as_day = "{2}/{1}/{0}".format
    assert f'<dd class="lifetime-first">{as_day(*first.split("-"))}</dd>' in body
    assert f'<dd class="lifetime-last">{as_day(*last.split("-"))}</dd>' in body


def test_dashboard_chart_spans_each_campaign_with_a_euro_axis(
    office: Flask, staff: FlaskClient
) -> None:
    body = page_text(staff.get("/admin/"))
    assert "01/07/2015</text>" in body and "31/05/2016</text>" in body  # anno 1's days
    assert "Raccolto (euro)</text>" in body and 'class="euro-tick"' in body
    assert ">banchetto</text>" in body and ">stand</text>" not in body  # channels in Italian


# 16. GDPR access as a document


def test_access_request_gives_a_readable_italian_document(
    office: Flask, staff: FlaskClient
) -> None:
    simone = find_donor(office, "simonebarbieri35@example.net")["donor_id"]
    document = staff.get(f"/admin/registry/{simone}/access/document")
    body = page_text(document)
    assert document.status_code == 200 and document.mimetype == "text/html"
    assert "I dati personali che conserviamo su di te" in body and "I tuoi diritti" in body
    assert "simonebarbieri35@example.net" in body and "Fare Legami — anno 1" in body
    held = staff.get(f"/admin/registry/{simone}/access").get_json()
    assert held["donor"]["email"] == "simonebarbieri35@example.net"
    assert page_text(staff.get("/admin/audit")).count("Richiesta di accesso (GDPR)") == 2


# 13. Exports for Italian Excel and LibreOffice


def test_exports_keep_identifiers_as_text_and_format_the_workbook(
    office: Flask, staff: FlaskClient
) -> None:
    staff.post(
        "/admin/donations/new",
        data={
            "reference": "0012345",
            "value_date": "2017-02-03",
            "campaign": "fare-legami-anni-2-3",
            "amount": "1.234,50",
            "organization": "Bottega Zero",
            "tax_code": "00743110157",  # a partita IVA: its leading zeros matter
            "address": "Via Roma 1",
            "postcode": "01100",
            "city": "Viterbo",
            "phone": "393486123456",
            "privacy_consent": "y",
        },
    )
    caught_up(office)
    response = staff.get("/admin/exports/donors.xlsx?campaign=fare-legami-anni-2-3")
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book.active
    assert sheet is not None
    titles = [cell.value for cell in sheet[1]]
    assert titles[:3] == ["ID donatore", "Nome", "Cognome"] and "Codice fiscale" in titles
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:P{sheet.max_row}"
    assert sheet.column_dimensions["A"].width >= 30 and sheet.column_dimensions["E"].width >= 30
    row = next(r for r in sheet.iter_rows(min_row=2) if r[3].value == "Bottega Zero")
    cells = dict(zip(titles, row, strict=True))
    for title, text in (("CAP", "01100"), ("Codice fiscale", "00743110157")):
        assert cells[title].value == text and cells[title].data_type == "s"
    assert cells["Telefono"].value == "+393486123456" and cells["Telefono"].data_type == "s"
    assert cells["Totale (€)"].value == 1234.5 and "€" in cells["Totale (€)"].number_format
    assert cells["Ultima donazione"].is_date
    assert cells["Ultima donazione"].value.date() == date(2017, 2, 3)
    assert cells["Ultima donazione"].number_format == "DD/MM/YYYY"

    gifts = load_workbook(
        io.BytesIO(staff.get("/admin/exports/donations.xlsx?from=2017-02-03&to=2017-02-03").data)
    ).active
    assert gifts is not None
    line = dict(zip([c.value for c in gifts[1]], [c for c in gifts[2]], strict=True))
    assert line["Riferimento"].value == "bank:0012345" and line["Data valuta"].is_date
    assert (line["Canale"].value, line["Modalità"].value) == ("banca", "bonifico")
    assert line["Stato"].value == "confermata"

    text = staff.get("/admin/exports/donors.csv?campaign=fare-legami-anni-2-3").data
    assert text.startswith("\ufeff".encode())
    lines = text.decode("utf-8-sig").splitlines()
    assert lines[0].startswith('"ID donatore";"Nome";"Cognome"')
    mine = next(line for line in lines if "Bottega Zero" in line)
    assert '"01100"' in mine and '"00743110157"' in mine and '"03/02/2017"' in mine
    assert '"1234,50"' in mine and "'+393486123456" in mine
    [parsed] = list(csv.reader([mine], delimiter=";"))
    assert parsed[0].count("-") == 4  # the donor id, whole


def test_one_exports_page_with_one_set_of_filters(staff: FlaskClient) -> None:
    body = page_text(staff.get("/admin/exports"))
    assert body.count("<form") == 2  # the sign-out form and the exports form
    assert body.count('name="campaign"') == 1 and body.count('name="from"') == 1
    for kind in ("donors", "donations"):
        for fmt in ("csv", "xlsx"):
            assert f'formaction="/admin/exports/{kind}.{fmt}"' in body


def test_merge_page_refuses_a_donor_with_itself(office: Flask, staff: FlaskClient) -> None:
    maria = find_donor(office, "CLMMRA43A53D150K")["donor_id"]
    same = staff.get(f"/admin/registry/merge?first={maria}&second={maria}")
    assert same.status_code == 422
    unknown = staff.get(f"/admin/registry/merge?first={maria}&second={uuid.uuid4()}")
    assert unknown.status_code == 404
