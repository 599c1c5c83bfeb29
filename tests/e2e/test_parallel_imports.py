"""The same file imported by several `ledger` processes at once is recorded exactly once."""

import os
import subprocess
import sys
from datetime import date

import pytest

from projections.reports import progress
from projections.store import LedgerStore
from tests.e2e.conftest import ROOT, run_ledger
from tests.helpers import EXPECTED, YEAR1

IMPORTERS = 4


@pytest.mark.slow
def test_parallel_imports_of_one_file_record_it_once(store_url: str) -> None:
    env = {"LEDGER_DATABASE_URL": store_url}
    run_ledger(env, "init")
    run_ledger(
        env,
        "campaigns",
        "add",
        "fare-legami-anno-1",
        "--name",
        "Fare Legami - anno 1",
        "--target",
        "42708",
        "--starts",
        "2015-07-01",
        "--ends",
        "2016-05-31",
    )
    importers = [
        subprocess.Popen(
            [sys.executable, "-m", "web.cli", "import", "donations", str(YEAR1 / "donations.csv")],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(IMPORTERS)
    ]
    results = [(process.wait(timeout=600), *process.communicate()) for process in importers]
    for status, _out, err in results:
        # Each one either imported the file, found it already imported, or was told clearly
        # that others were writing it: never a traceback.
        assert "Traceback" not in err, err
        assert status == 0 or "riprova" in err.lower() or "try again" in err.lower(), err
    assert any(status == 0 for status, _out, _err in results)
    run_ledger(env, "import", "donations", str(YEAR1 / "donations.csv"))  # a no-op by now
    ledger = LedgerStore.open(store_url, create_tables=False)
    try:
        ledger.runner.catch_up()
        [figures] = progress(ledger.database, "fare-legami-anno-1", date(2030, 1, 1))
        with ledger.database.reading() as session:
            recorded = session.scalar("SELECT COUNT(*) FROM gifts_view", default=0)
    finally:
        ledger.close()
    expected = EXPECTED["campaigns"]["fare-legami-anno-1"]
    assert (figures["raised_cents"], figures["donors"], figures["contacts"]) == (
        expected["raised_cents"],
        expected["donors"],
        expected["contacts"],
    )
    rows = sum(1 for line in (YEAR1 / "donations.csv").read_text().splitlines()[1:] if line)
    assert recorded == rows
