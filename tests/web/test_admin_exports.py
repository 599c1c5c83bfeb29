"""Exports from the command line: XLSX with filters, and 100,000 donors as CSV and XLSX."""

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ledger.csv_import import COLUMNS
from tests.helpers import YEAR1_CSV, add_campaigns, ledger
from web.cli import main

DONORS = 100_000


def write_distinct_donors_csv(path: Path, donors: int) -> Path:
    """One gift per donor, each with its own e-mail, so the registry holds `donors` entries."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        for index in range(donors):
            writer.writerow(
                dict.fromkeys(COLUMNS, "")
                | {
                    "date": f"{index % 28 + 1:02d}/03/2017",
                    "campaign": "fare-legami-anni-2-3",
                    "channel": "online",
                    "method": "card",
                    "amount": f"{index % 90 + 10},50",
                    "donors": "1",
                    "first_name": "Anna",
                    "last_name": f"Rossi{index:06d}",
                    "email": f"donatrice{index}@example.org",
                    "privacy_consent": "sì",
                    "marketing_consent": "sì" if index % 2 else "no",
                    "reference": f"D-{index}",
                }
            )
    return path


def test_xlsx_export_of_donors_with_tax_code_and_marketing_consent(
    cli: CliRunner, tmp_path: Path
) -> None:
    add_campaigns(cli)
    assert cli.invoke(main, ["import", "donations", YEAR1_CSV]).exit_code == 0
    everyone, chosen = tmp_path / "tutti.xlsx", tmp_path / "scelti.xlsx"
    for path, flags in ((everyone, []), (chosen, ["--with-tax-code", "--marketing-only"])):
        result = cli.invoke(
            main,
            [
                "export",
                "donors",
                "--format",
                "xlsx",
                "--campaign",
                "fare-legami-anno-1",
                *flags,
                "--out",
                str(path),
            ],
        )
        assert result.exit_code == 0, result.stderr
    all_rows = list(load_workbook(everyone, read_only=True).active.iter_rows(values_only=True))
    rows = list(load_workbook(chosen, read_only=True).active.iter_rows(values_only=True))
    header = all_rows[0]
    assert len(all_rows) == 324 + 1 and header[:3] == ("ID donatore", "Nome", "Cognome")
    tax_code, marketing = header.index("Codice fiscale"), header.index("Consenso notizie")
    assert 1 < len(rows) < len(all_rows)
    assert all(row[tax_code] and row[marketing] is True for row in rows[1:])
    expected = sum(1 for row in all_rows[1:] if row[tax_code] and row[marketing] is True)
    assert len(rows) - 1 == expected


@pytest.mark.slow
def test_hundred_thousand_donors_export_as_csv_and_xlsx(tmp_path: Path) -> None:
    # Their memory, against a small export's, is measured by ./scripts/bench.
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    assert ledger(url, "init").returncode == 0
    assert (
        ledger(
            url,
            "campaigns",
            "add",
            "fare-legami-anni-2-3",
            "--name",
            "Anni 2-3",
            "--target",
            "336000",
        ).returncode
        == 0
    )
    source = write_distinct_donors_csv(tmp_path / "donors.csv", DONORS)
    imported = ledger(url, "import", "donations", str(source))
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "donors.csv"
    exported = ledger(url, "export", "donors", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    with out.open(encoding="utf-8") as exported_file:
        header, first = next(exported_file), next(exported_file)
        assert sum(1 for _ in exported_file) == DONORS - 1
    assert header.startswith('\ufeff"ID donatore";')
    assert first.split(";")[14] == '"10,50"'  # the first donor by surname gave €10.50
    workbook_path = tmp_path / "donors.xlsx"
    workbook = ledger(
        url, "export", "donors", "--format", "xlsx", "--marketing-only", "--out", str(workbook_path)
    )
    assert workbook.returncode == 0, workbook.stderr
    sheet = load_workbook(workbook_path, read_only=True).active
    assert sheet is not None
    assert sum(1 for _ in sheet.iter_rows(values_only=True)) == DONORS // 2 + 1
