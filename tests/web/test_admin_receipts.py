"""The back office's Receipts section: issue, void, re-send, download, the AdE file, reports."""

import pytest
from flask import Flask

from tests.helpers import signed_in


def test_staff_issue_a_year_then_download_void_and_resend(year1_office: Flask) -> None:
    client = signed_in(year1_office, "staff")
    page = client.get("/admin/receipts/?year=2015").get_data(as_text=True)
    assert "Ricevute 2015" in page and "Nessuna ricevuta per questo anno." in page
    assert "i messaggi restano in coda" in page  # no SMTP configured
    to_issue = int(page.split('class="to-issue">')[1].split("<")[0].replace(".", ""))
    assert to_issue > 100
    issued = client.post("/admin/receipts/issue", data={"year": "2015"})
    assert issued.status_code == 302
    page = client.get("/admin/receipts/?year=2015").get_data(as_text=True)
    assert f"{to_issue} ricevute emesse" in page and "2015/000001" in page
    assert f"2015/{to_issue:06d}" in page and f"2015/{to_issue + 1:06d}" not in page
    pdf = client.get("/admin/receipts/2015/000002.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.post("/admin/receipts/2015/2/void", data={"reason": ""}).status_code == 422
    assert (
        client.post("/admin/receipts/2015/2/void", data={"reason": "importo errato"}).status_code
        == 302
    )
    page = client.get("/admin/receipts/?year=2015").get_data(as_text=True)
    assert "annullata: importo errato" in page
    assert client.post("/admin/receipts/2015/1/resend").status_code == 302
    page = client.get("/admin/receipts/?year=2015").get_data(as_text=True)
    assert "resend 2015/000001" in page and "in coda" in page
    assert client.get("/admin/receipts/2015/999999.pdf").status_code == 404


def test_the_agenzia_file_and_the_accountant_csv_download(
    year1_office: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_FOUNDATION_TAX_CODE", "93012345678")
    client = signed_in(year1_office, "staff")
    opposed = client.post(
        "/admin/receipts/opposition",
        data={"donor": "CLMMRA43A53D150K", "year": "2015", "how": "modulo firmato"},
    )
    assert opposed.status_code == 302
    ade = client.get("/admin/receipts/agenzia-entrate/2015.txt")
    assert ade.status_code == 200 and {len(r) for r in ade.data.split(b"\r\n")[:-1]} == {1798}
    assert b"CLMMRA43A53D150K" not in ade.data
    sheet = client.get("/admin/receipts/agenzia-entrate/2015.csv").get_data(as_text=True)
    assert "il donatore si è opposto alla trasmissione" in sheet
    assert "agenzia-entrate" in client.get("/admin/audit").get_data(as_text=True)


def test_a_campaign_report_takes_expenses_from_a_form(year1_office: Flask) -> None:
    client = signed_in(year1_office, "staff")
    page = client.get("/admin/receipts/fundraising/fare-legami-anno-1").get_data(as_text=True)
    income = page.split('class="income">')[1].split("<")[0]
    bad = client.post(
        "/admin/receipts/fundraising/fare-legami-anno-1",
        data={"amount": "abc", "on": "2015-09-01", "what": "gazebo"},
    )
    assert bad.status_code == 422
    ok = client.post(
        "/admin/receipts/fundraising/fare-legami-anno-1",
        data={"amount": "150,00", "on": "2015-09-01", "what": "Noleggio gazebo"},
    )
    assert ok.status_code == 302
    page = client.get("/admin/receipts/fundraising/fare-legami-anno-1").get_data(as_text=True)
    assert 'class="expenses">€ 150,00' in page and "Noleggio gazebo" in page
    assert page.split('class="income">')[1].split("<")[0] == income
    report = client.get("/admin/receipts/fundraising/fare-legami-anno-1.pdf?use=borse")
    assert report.status_code == 200 and report.data.startswith(b"%PDF")
    table = client.get("/admin/receipts/fundraising/fare-legami-anno-1.csv")
    assert "spesa;2015-09-01;Noleggio gazebo;;;150,00" in table.get_data(as_text=True)


def test_volunteers_cannot_see_receipts(year1_office: Flask) -> None:
    client = signed_in(year1_office, "volunteer")
    assert client.get("/admin/receipts/").status_code == 403
    assert year1_office.test_client().get("/admin/receipts/").status_code in (302, 401)


@pytest.mark.parametrize("year", ["²⁰¹⁵", "٢٠١٥", "2015x", "99999999999999999999"])
def test_a_year_that_is_not_four_plain_digits_is_422(
    year1_office: Flask,
    year: str,
) -> None:
    client = signed_in(year1_office, "staff")
    assert client.get("/admin/receipts/", query_string={"year": year}).status_code == 422
    assert client.get(f"/admin/receipts/agenzia-entrate/{year}.csv").status_code == 422
