"""100,000 rows import and export through the CLI in flat memory (the benchmark measures speed)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synthetic import write_donations_csv

ROWS = 100_000


# Runs `ledger` and reports the peak memory of that process alone.
MEASURED = """
import resource, sys
from web.cli import main
try:
    main(sys.argv[1:])
finally:
    print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def ledger(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", MEASURED, *args], capture_output=True,
                          text=True, env={**os.environ, "LEDGER_DATABASE_URL": url}, check=False)


def peak_mb(result: subprocess.CompletedProcess[str]) -> float:
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("MAXRSS_KB"))
    return int(line.split()[1]) / 1024


@pytest.mark.slow
def test_hundred_thousand_rows_import_and_export_in_flat_memory(tmp_path: Path) -> None:
    peaks, export_peaks = {}, {}
    for rows in (1_000, ROWS):
        url = f"sqlite:///{tmp_path / f'{rows}.sqlite3'}"
        path = write_donations_csv(tmp_path / f"{rows}.csv", rows)
        assert ledger(url, "init").returncode == 0
        added = ledger(url, "campaigns", "add", "fare-legami-anni-2-3", "--name", "Anni 2-3",
                       "--target", "336000")
        assert added.returncode == 0, added.stderr
        imported = ledger(url, "import", "donations", str(path))
        assert imported.returncode == 0, imported.stderr
        assert f"added {rows} gifts" in imported.stdout
        peaks[rows] = peak_mb(imported)
        report = json.loads(ledger(url, "report", "progress", "--json").stdout)
        assert report[0]["gifts"] >= rows
        out = tmp_path / f"donations-{rows}.csv"
        exported = ledger(url, "export", "donations", "--out", str(out))
        assert exported.returncode == 0, exported.stderr
        assert len(out.read_text(encoding="utf-8-sig").splitlines()) == rows + 1
        export_peaks[rows] = peak_mb(exported)
    # A hundred times the rows costs some keys in a set (~25 MB here), not the rows
    # themselves, which would add well over 100 MB; an export streams them.
    growth = peaks[ROWS] - peaks[1_000]
    assert growth < 60, f"import peak RSS {peaks[1_000]:.0f} MB → {peaks[ROWS]:.0f} MB"
    export_growth = export_peaks[ROWS] - export_peaks[1_000]
    assert export_growth < 30, (
        f"export peak RSS {export_peaks[1_000]:.0f} MB → {export_peaks[ROWS]:.0f} MB")
