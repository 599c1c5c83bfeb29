"""100,000 rows import, report and export through the CLI (./scripts/bench measures speed and
memory)."""

import csv
import json
from pathlib import Path

import pytest

from tests.helpers import ledger
from tests.synthetic import write_donations_csv

ROWS = 100_000


@pytest.mark.slow
def test_hundred_thousand_rows_import_report_and_export(tmp_path: Path) -> None:
    # Time and memory, against a small file's, are measured by ./scripts/bench.
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    path = write_donations_csv(tmp_path / "donations.csv", ROWS)
    assert ledger(url, "init").returncode == 0
    added = ledger(
        url, "campaigns", "add", "fare-legami-anni-2-3", "--name", "Anni 2-3", "--target", "336000"
    )
    assert added.returncode == 0, added.stderr
    imported = ledger(url, "import", "donations", str(path))
    assert imported.returncode == 0, imported.stderr
    assert f"added {ROWS} gifts" in imported.stdout
    with path.open(encoding="utf-8-sig") as written:
        rows = list(csv.DictReader(written, delimiter=";"))
    [report] = json.loads(ledger(url, "report", "progress", "--json").stdout)
    # Identified rows are one gift each, a stand tally counts its people.
    assert report["gifts"] == sum(int(row["donors"]) for row in rows)
    assert report["raised_cents"] == sum(int(row["amount"].replace(",", "")) for row in rows)
    out = tmp_path / "exported.csv"
    exported = ledger(url, "export", "donations", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == ROWS + 1
