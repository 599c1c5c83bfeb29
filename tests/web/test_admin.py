"""The back office: dashboard, donations, registry, exports and their audit, on both stores."""

import csv
import io
import uuid
from datetime import date
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from projections import registry
from tests.helpers import signed_in
from web import store


def donor_id(app: Flask, text: str) -> str:
    with app.app_context():
        store().runner.catch_up()
    with app.app_context(), store().database.reading() as session:
        return str(registry.search_donors(session, text)[0]["donor_id"])


def test_dashboard_shows_figures_and_charts(year1_office: Flask) -> None:
    client = signed_in(year1_office, "staff")
    client.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-9",
            "value_date": "2016-09-01",
            "campaign": "fare-legami-anni-2-3",
            "amount": "1.000,00",
        },
    )
    page = client.get("/admin/").get_data(as_text=True)
    assert "€ 42.708,00" in page and "2.289" in page
    assert page.count("<svg") >= 8 and 'class="raised"' in page and 'class="target"' in page
    assert "€ 336.000,00" in page and "€ 1.000,00" in page


def test_donations_filter_by_channel_and_date(year1_office: Flask) -> None:
    client = signed_in(year1_office, "staff")
    page = client.get(
        "/admin/donations?campaign=fare-legami-anno-1&channel=bank&from=2015-07-01&to=2015-07-05"
    ).get_data(as_text=True)
    assert "FL1-000002" in page and "FL1-000003" in page
    assert "FL1-000001" not in page and "FL1-000004" not in page


def test_bank_transfer_keyed_by_reference(year1_office: Flask) -> None:
    client = signed_in(year1_office, "staff")
    form = {
        "reference": "cro 0001",
        "value_date": "2016-09-01",
        "campaign": "fare-legami-anni-2-3",
        "amount": "150,00",
        "email": "x@example.org",
        "privacy_consent": "y",
    }
    first = client.post("/admin/donations/new", data=form, follow_redirects=True)
    assert first.status_code == 200 and "Bonifico registrato" in first.get_data(as_text=True)
    again = client.post("/admin/donations/new", data=form, follow_redirects=True)
    assert "già registrato" in again.get_data(as_text=True)
    bad = client.post(
        "/admin/donations/new",
        data={**form, "reference": "CRO 2", "tax_code": "XYZ", "amount": "0"},
    )
    assert bad.status_code == 422 and "codice fiscale" in bad.get_data(as_text=True)
    body = client.get("/api/v1/campaigns/fare-legami-anni-2-3/progress").get_json()
    with year1_office.app_context():
        store().runner.catch_up()
    body = client.get("/api/v1/campaigns/fare-legami-anni-2-3/progress").get_json()
    assert (body["raised_cents"], body["contacts"]) == (15000, 1)


def test_refund_and_correction_are_new_events_with_a_reason(year1_office: Flask) -> None:
    client = signed_in(year1_office, "staff")
    with year1_office.app_context():
        donation = store().app.find_donation("csv:FL1-000002")
        assert donation is not None
    url = f"/admin/donations/{donation.id}"
    refund_id = str(uuid.uuid4())
    for _ in range(2):  # a double submit is one refund
        client.post(
            url + "/refund",
            data={
                "refund_id": refund_id,
                "amount": "25,00",
                "on": "2015-08-01",
                "reason": "errore",
            },
        )
    client.post(
        url + "/correct",
        data={"amount": "70,00", "value_date": "2015-07-03", "reason": "importo trascritto male"},
    )
    page = client.get(url).get_data(as_text=True)
    assert "€ 70,00" in page and "€ 25,00" in page
    refused = client.post(
        url + "/correct", data={"amount": "70,00", "value_date": "2015-07-03", "reason": "di nuovo"}
    )
    assert refused.status_code == 422
    with year1_office.app_context():
        events = store().app.recorder.select_events(donation.id)
    assert [e.topic.rsplit(".", 1)[-1] for e in events] == ["Received", "Refunded", "Corrected"]


def test_registry_search_donor_page_and_merge(year1_office: Flask) -> None:
    client = signed_in(year1_office, "staff")
    page = client.post("/admin/registry", data={"q": "366 207 6513"}).get_data(as_text=True)
    assert "simonebarbieri35@example.net" in page
    first, second = (
        donor_id(year1_office, "CLMMRA43A53D150K"),
        donor_id(year1_office, "DLCGPP57H16B898S"),
    )
    donor_page = client.get(f"/admin/registry/{first}").get_data(as_text=True)
    assert "Storia dei consensi" in donor_page and "CLMMRA43A53D150K" in donor_page
    merged = client.post(
        "/admin/registry/merge", data={"first": first, "second": second, "survivor": first}
    )
    assert merged.status_code == 302
    redirect = client.get(f"/admin/registry/{second}")
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith(first)
    assert client.get("/admin/registry/duplicates").status_code == 200


def test_exports_open_in_italian_excel_and_are_audited(year1_office: Flask) -> None:
    client = signed_in(year1_office, "staff")
    response = client.get("/admin/exports/donors.csv?campaign=fare-legami-anno-1&with_tax_code=1")
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["ID donatore", "Nome", "Cognome"]
    assert rows[1:] and all(row[10] for row in rows[1:])  # tax code column
    assert all("," in row[14] for row in rows[1:])  # decimal comma
    marketing = client.get("/admin/exports/donors.csv?marketing_only=1").get_data()
    donations = client.get("/admin/exports/donations.xlsx?campaign=fare-legami-anno-1")
    sheet = load_workbook(io.BytesIO(donations.get_data()), read_only=True).active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    assert len(table) == 520 + 1 and table[1][4] == 20.0  # amounts are numbers in XLSX
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "Esportazione donatori (CSV)" in audit and "Esportazione donazioni (XLSX)" in audit
    assert str(len(rows) - 1) in audit
    assert len(marketing.splitlines()) < len(body.splitlines()) + 400


def test_access_request_and_erasure(year1_office: Flask) -> None:
    staff, admin = signed_in(year1_office, "staff"), signed_in(year1_office, "admin")
    target = donor_id(year1_office, "simonebarbieri35@example.net")
    access = staff.get(f"/admin/registry/{target}/access")
    held: dict[str, Any] = access.get_json()
    assert held["donor"]["email"] == "simonebarbieri35@example.net"
    assert held["sealed_details"][0]["details"]["donor"]["email"]
    before = staff.get("/api/v1/campaigns/fare-legami-anno-1/progress").get_json()
    erased = staff.post(
        f"/admin/registry/{target}/erase", data={"reason": "richiesta", "confirmed": "1"}
    )
    assert erased.status_code == 302
    page = staff.get(f"/admin/registry/{target}").get_data(as_text=True)
    assert "simonebarbieri35" not in page and "cancellati" in page
    after = staff.get("/api/v1/campaigns/fare-legami-anno-1/progress").get_json()
    assert (after["donors"], after["contacts"]) == (before["donors"], before["contacts"])
    staff.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-RECENT",
            "value_date": date.today().isoformat(),
            "campaign": "fare-legami-anni-2-3",
            "amount": "50",
            "tax_code": "RSSMRA80A01D150J",
            "privacy_consent": "y",
        },
    )
    kept = donor_id(year1_office, "RSSMRA80A01D150J")
    refused = staff.post(f"/admin/registry/{kept}/erase", data={"reason": "richiesta"})
    assert refused.status_code == 409 and "10 anni" in refused.get_data(as_text=True)
    forbidden = staff.post(f"/admin/registry/{kept}/erase", data={"reason": "r", "force": "y"})
    assert forbidden.status_code == 403
    forced = admin.post(
        f"/admin/registry/{kept}/erase",
        data={"reason": "ordine del Garante", "force": "y", "confirmed": "1"},
    )
    assert forced.status_code == 302
    audit = staff.get("/admin/audit").get_data(as_text=True)
    assert "Richiesta di accesso (GDPR)" in audit
    assert audit.count("Cancellazione dei dati personali") == 2


@pytest.mark.parametrize(
    ("day", "status", "kept_until"),
    [
        ("2016-02-29", 302, None),
        ("2020-02-29", 409, "28/02/2030"),
    ],
)
def test_erasing_a_donor_whose_last_gift_is_on_29_february(
    year1_office: Flask, day: str, status: int, kept_until: str | None
) -> None:
    staff = signed_in(year1_office, "staff")
    recorded = staff.post(
        "/admin/donations/new",
        data={
            "reference": f"CRO-LEAP-{day}",
            "value_date": day,
            "campaign": "fare-legami-anni-2-3",
            "amount": "50",
            "tax_code": "RSSMRA80A01D150J",
            "privacy_consent": "y",
        },
    )
    assert recorded.status_code == 302
    target = donor_id(year1_office, "RSSMRA80A01D150J")
    erased = staff.post(
        f"/admin/registry/{target}/erase", data={"reason": "richiesta", "confirmed": "1"}
    )
    assert erased.status_code == status
    if kept_until:
        assert kept_until in erased.get_data(as_text=True)
    with year1_office.app_context():
        store().runner.catch_up()
    with year1_office.app_context(), store().database.reading() as session:
        entry = registry.donor(session, target)
    assert entry is not None and entry["erased"] == (status == 302)
