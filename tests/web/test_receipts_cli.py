"""`ledger receipts`: a year issued in one go, listed, voided, and the PDFs as one reads them."""

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from ledger.money import format_eur
from tests.helpers import pdf_text
from web.cli import main


def page_one_png(path: Path, tmp_path: Path) -> Image.Image:
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(path),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    return Image.open(tmp_path / "page.png").convert("L")


def issued(cli: CliRunner, year: int = 2015) -> list[dict]:
    """Issue a year's receipts (the ledger holds the year-1 donations); the receipts listed."""
    result = cli.invoke(main, ["receipts", "issue", "--year", str(year), "--on", "15/02/2016"])
    assert result.exit_code == 0, result.output
    listed = cli.invoke(main, ["receipts", "list", "--year", str(year), "--json"])
    assert listed.exit_code == 0, listed.output
    return list(json.loads(listed.output))


def by_reference(rows: list[dict], reference: str) -> dict:
    return next(r for r in rows if r["reference"] == reference)


def test_a_year_is_issued_once_and_listed_in_number_order(year1_cli: CliRunner) -> None:
    rows = issued(year1_cli)
    assert len(rows) > 100
    assert [r["number"] for r in rows] == [f"2015/{n:06d}" for n in range(1, len(rows) + 1)]
    assert {r["status"] for r in rows} == {"issued"}
    maria = by_reference(rows, "FL1-000002")
    assert (maria["donor"], maria["tax_code"], maria["amount_cents"], maria["method"]) == (
        "Maria Colombo",
        "CLMMRA43A53D150K",
        7500,
        "bank_transfer",
    )
    again = year1_cli.invoke(main, ["receipts", "issue", "--year", "2015"])
    assert again.exit_code == 0
    assert "2015: 0 receipts issued" in again.output
    assert year1_cli.invoke(main, ["receipts", "list", "--year", "2015", "--json"]).output.count(
        '"number"'
    ) == len(rows)
    text = year1_cli.invoke(main, ["receipts", "list", "--year", "2015"]).output
    assert f"{maria['number']}\tissued\tFL1-000002\tMaria Colombo\t€ 75,00\tbank_transfer" in text


def test_receipt_page_says_what_the_law_asks_in_italian(
    year1_cli: CliRunner, tmp_path: Path
) -> None:
    maria = by_reference(issued(year1_cli), "FL1-000002")
    out = tmp_path / "ricevuta.pdf"
    result = year1_cli.invoke(main, ["receipts", "pdf", maria["number"], "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    for expected in (
        f"Ricevuta di erogazione liberale n. {maria['number']}",
        "Fondazione Comunitaria della Provincia di Cremona",
        "Via Palestro 36",
        "Maria Colombo",
        "Codice fiscale CLMMRA43A53D150K",
        "03/07/2015",
        "€ 75,00",
        "(euro settantacinque/00)",
        "mediante bonifico bancario",
        "senza alcuna controprestazione",
        "art. 83, comma 1",
        "art. 82, comma 5",
        "esente dall'imposta di bollo",
        "detraibile",
        "Cremona, 15/02/2016",
    ):
        assert expected in text, expected
    assert "non detraibile" not in text
    page = page_one_png(out, tmp_path)
    width, height = page.size
    assert height == 702 and abs(height / width - 297 / 210) < 0.01  # A4 at 60 dpi
    dark = sum(page.histogram()[:128])
    assert 0.005 < dark / (width * height) < 0.2  # ink on the page, not a black square
    top = page.crop((0, 0, width, height // 2))
    assert sum(top.histogram()[:128]) > dark / 2  # text starts at the top


def test_cash_says_not_deductible_and_no_tax_code_says_nothing(
    year1_cli: CliRunner, tmp_path: Path
) -> None:
    rows = issued(year1_cli)
    cash, online = by_reference(rows, "FL1-000004"), by_reference(rows, "FL1-000001")
    assert (cash["method"], cash["deductibility"]) == ("cash", "not_deductible")
    assert (online["tax_code"], online["deductibility"]) == ("", "none")
    for row, name in ((cash, "cash.pdf"), (online, "online.pdf")):
        assert (
            year1_cli.invoke(
                main, ["receipts", "pdf", row["number"], "--out", str(tmp_path / name)]
            ).exit_code
            == 0
        )
    assert "Erogazione in contanti: non detraibile/deducibile" in pdf_text(tmp_path / "cash.pdf")
    online_text = pdf_text(tmp_path / "online.pdf")
    assert "detraibile" not in online_text and "deducibile" not in online_text
    assert "mediante carta di pagamento" in online_text and "Simone Barbieri" in online_text


def test_foundation_comes_from_the_environment(year1_url: str, tmp_path: Path) -> None:
    cli = CliRunner(
        env={
            "LEDGER_DATABASE_URL": year1_url,
            "LEDGER_FOUNDATION_NAME": "Fondazione Prova ETS",
            "LEDGER_FOUNDATION_TAX_CODE": "12345678903",
            "LEDGER_FOUNDATION_ADDRESS": "Piazza del Comune 1, 26100 Cremona",
            "LEDGER_FOUNDATION_STATUS": "Ente filantropico iscritto al RUNTS",
        }
    )
    first = issued(cli)[0]
    cli.invoke(main, ["receipts", "pdf", first["number"], "--out", str(tmp_path / "r.pdf")])
    text = pdf_text(tmp_path / "r.pdf")
    for expected in (
        "Fondazione Prova ETS",
        "Codice fiscale 12345678903",
        "Piazza del Comune 1, 26100 Cremona",
        "Ente filantropico iscritto al RUNTS",
    ):
        assert expected in text


def test_a_voided_receipt_keeps_its_number_and_prints_void(
    year1_cli: CliRunner, tmp_path: Path
) -> None:
    maria = by_reference(issued(year1_cli), "FL1-000002")
    result = year1_cli.invoke(
        main, ["receipts", "void", maria["number"], "--reason", "importo errato"]
    )
    assert result.exit_code == 0 and "voided" in result.output
    rows = json.loads(
        year1_cli.invoke(main, ["receipts", "list", "--year", "2015", "--json"]).output
    )
    assert [(r["status"], r["void_reason"]) for r in rows if r["number"] == maria["number"]] == [
        ("void", "importo errato")
    ]
    year1_cli.invoke(main, ["receipts", "pdf", maria["number"], "--out", str(tmp_path / "v.pdf")])
    assert "ANNULLATA Motivo dell'annullamento: importo errato" in pdf_text(tmp_path / "v.pdf")
    reissued = year1_cli.invoke(main, ["receipts", "issue", "--year", "2015"])
    assert f"1 receipts issued (2015/{len(rows) + 1:06d}" in reissued.output


def test_statement_lists_the_donors_receipts_and_total(
    year1_cli: CliRunner, tmp_path: Path
) -> None:
    rows = issued(year1_cli)
    mine = [r for r in rows if r["tax_code"] == "CLMMRA43A53D150K"]
    out = tmp_path / "riepilogo.pdf"
    result = year1_cli.invoke(
        main,
        [
            "receipts",
            "statement",
            "--year",
            "2015",
            "--donor",
            "clmmra43a53d150k",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert "Riepilogo annuale delle erogazioni liberali 2015" in text
    for row in mine:
        assert row["number"] in text
    total = sum(r["amount_cents"] for r in mine)
    assert len(mine) >= 1 and f"Totale dell'anno: {format_eur(total)}" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["receipts", "pdf", "2015-1", "--out", "x.pdf"], "not a receipt number"),
        (["receipts", "pdf", "2015/999999", "--out", "x.pdf"], "no receipt 2015/999999"),
        (
            [
                "receipts",
                "statement",
                "--year",
                "2015",
                "--donor",
                "nobody@example.org",
                "--out",
                "x.pdf",
            ],
            "no donor",
        ),
        (
            ["receipts", "statement", "--year", "2015", "--donor", "XXX", "--out", "x.pdf"],
            "not a tax code nor an e-mail",
        ),
        (["receipts", "void", "2015/000001", "--reason", " "], "say why"),
    ],
)
def test_bad_requests_exit_non_zero_with_a_message(
    year1_cli: CliRunner, args: list[str], message: str, tmp_path: Path
) -> None:
    issued(year1_cli)
    out = tmp_path / "x.pdf"
    result = year1_cli.invoke(main, [str(out) if arg == "x.pdf" else arg for arg in args])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_agenzia_export_writes_the_file_and_the_accountant_csv(
    year1_url: str, tmp_path: Path
) -> None:
    cli = CliRunner(
        env={"LEDGER_DATABASE_URL": year1_url, "LEDGER_FOUNDATION_TAX_CODE": "93012345678"}
    )
    rows = issued(cli)
    assert (
        cli.invoke(
            main,
            [
                "receipts",
                "oppose",
                "--year",
                "2015",
                "--donor",
                "CLMMRA43A53D150K",
                "--how",
                "modulo firmato",
            ],
        ).exit_code
        == 0
    )
    out, sheet = tmp_path / "ade.txt", tmp_path / "commercialista.csv"
    result = cli.invoke(
        main,
        [
            "export",
            "agenzia-entrate",
            "--year",
            "2015",
            "--out",
            str(out),
            "--accountant-csv",
            str(sheet),
        ],
    )
    assert result.exit_code == 0, result.output
    records = out.read_bytes().split(b"\r\n")[:-1]
    assert {len(r) for r in records} == {1798} and records[0][:1] == b"0"
    assert b"CLMMRA43A53D150K" not in out.read_bytes()  # she opposed
    traceable = {
        r["tax_code"]
        for r in rows
        if r["tax_code"]
        and r["method"] != "cash"
        and r["tax_code"] != "CLMMRA43A53D150K"
        and not r["tax_code"].isdigit()
    }
    assert {r[1:17].decode().strip() for r in records if r[:1] == b"1"} == traceable
    assert "il donatore si è opposto" in sheet.read_text(encoding="utf-8")
    missing = cli.invoke(main, ["export", "agenzia-entrate"])
    assert missing.exit_code == 1 and "--year" in missing.output
