"""A 100,000-row file imports through the CLI in flat memory (the benchmark measures speed)."""

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
def test_hundred_thousand_rows_import_in_flat_memory(sqlite_url: str, tmp_path: Path) -> None:
    path = write_donations_csv(tmp_path / "big.csv", ROWS)
    added = ledger(sqlite_url, "campaigns", "add", "fare-legami-anni-2-3", "--name", "Anni 2-3",
                   "--target", "336000")
    assert added.returncode == 0, added.stderr
    imported = ledger(sqlite_url, "import", "donations", str(path))
    assert imported.returncode == 0, imported.stderr
    assert f"added {ROWS} gifts" in imported.stdout
    # Peak RSS of the import: about 67 MB for 1,000 rows and 90 MB for 100,000 here (the
    # interpreter, its libraries, a set of row keys); holding the rows would add 100+ MB.
    assert peak_mb(imported) < 150, f"peak RSS {peak_mb(imported):.0f} MB"
    report = json.loads(ledger(sqlite_url, "report", "progress", "--json").stdout)
    assert report[0]["gifts"] >= ROWS
