"""Donor export: `ledger export donors` of 100,000 donors (10,000 with --quick) against
PostgreSQL's own `COPY (SELECT …) TO STDOUT` of the same rows, and the export's peak memory.

The donors and their gifts are written straight into the registry's tables by SQL (some with
names a spreadsheet would run as formulas, quotes, semicolons); what is measured reads only
those tables. The export runs in a child process, so that its peak memory is its own, as the
command does it: the audit entry with the row count, then every row to a file. XLSX is
measured the same way and reported beside it.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.common import Result, in_child, postgres_database

DONORS = """
INSERT INTO registry_donors (donor_id, first_position, display_name, first_name, last_name,
    organization, email, phone, address, postcode, city, province, tax_code, privacy_consent,
    marketing_consent, consent_on, consent_how, erased)
SELECT 'donor-' || lpad(n::text, 7, '0'), n, '',
    (ARRAY['Maria', 'Giuseppe', '=HYPERLINK("x")', 'Anna', 'Luca; e Sara'])[1 + n %% 5],
    (ARRAY['Rossi', 'Bianchi', '@Colombo', 'Ferrari', '-Galli', 'Sala "la"'])[1 + n %% 6],
    CASE WHEN n %% 10 = 0 THEN 'Associazione ' || n ELSE '' END,
    'donor' || n || '@example.org', '+39333' || lpad(n::text, 7, '0'),
    'Via Roma ' || n, '26100', 'Cremona', 'CR',
    CASE WHEN n %% 3 = 0 THEN 'RSSMRA80A01D150' || chr(65 + n %% 26) ELSE '' END,
    1, n %% 2, '2017-01-01', 'online', 0
FROM generate_series(1, %(donors)s) AS n
"""
GIFTS = """
INSERT INTO registry_gifts (donation_id, donor_id, campaign, value_date, amount_cents, status)
SELECT 'gift-' || n, 'donor-' || lpad((1 + n %% %(donors)s)::text, 7, '0'),
    'fare-legami-anni-2-3', to_char(DATE '2016-07-01' + (n %% 700), 'YYYY-MM-DD'),
    500 + (n %% 97) * 125,
    CASE WHEN n > %(donors)s AND n %% 40 = 0 THEN 'pending' ELSE 'confirmed' END
FROM generate_series(1, %(gifts)s) AS n
"""


def _ledger(url: str, donors: int) -> None:
    from projections.store import LedgerStore

    LedgerStore.open(url).close()
    with psycopg.connect(url) as connection:
        connection.execute(DONORS, {"donors": donors})
        connection.execute(GIFTS, {"donors": donors, "gifts": donors * 2})
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def _copy_seconds(url: str) -> tuple[float, int]:
    """PostgreSQL writing the same rows by itself: COPY of the export's query, as CSV."""
    from projections.exports import ExportFilters, donors_query

    sql, params = donors_query(ExportFilters())
    started = time.perf_counter()
    size = 0
    with (
        psycopg.connect(url) as connection,
        connection.cursor() as cursor,
        cursor.copy(
            f"COPY ({sql.replace('?', '%s')}) TO STDOUT WITH (FORMAT csv, DELIMITER ';')", params
        ) as copy,
    ):
        for chunk in copy:
            size += len(chunk)
    return time.perf_counter() - started, size


def export_donors(url: str, fmt: str, out: str) -> dict[str, Any]:
    """In the child: what `ledger export donors [--format xlsx] --out FILE` does, timed."""
    import shutil

    from projections.exports import ExportFilters
    from projections.store import LedgerStore
    from web.exports import audited_export, csv_lines, xlsx_file

    store = LedgerStore.open(url)
    started = time.perf_counter()
    plan = audited_export(store, "donors", fmt, ExportFilters(), "bench")
    if fmt == "xlsx":
        with (
            xlsx_file(store.database, plan.sql, plan.params, plan.columns) as workbook,
            open(out, "wb") as target,
        ):
            shutil.copyfileobj(workbook, target)
    else:
        with open(out, "w", encoding="utf-8", newline="") as target:
            target.writelines(csv_lines(store.database, plan.sql, plan.params, plan.columns))
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "rows": plan.rows, "bytes": Path(out).stat().st_size}


def run(options: argparse.Namespace) -> list[Result]:
    donors = 10_000 if options.quick else 100_000
    rounds = 3
    with postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        _ledger(url, donors)
        copies, exports = [], []
        for _ in range(rounds):
            copies.append(_copy_seconds(url))
            exports.append(
                in_child("benchmarks.exports:export_donors", url, "csv", f"{tmp}/donors.csv")
            )
        xlsx = in_child("benchmarks.exports:export_donors", url, "xlsx", f"{tmp}/donors.xlsx")
    copy_s = statistics.median(seconds for seconds, _ in copies)
    export_s = statistics.median(run["seconds"] for run in exports)
    rows = exports[0]["rows"]
    peak = max(run["peak_rss_mb"] for run in exports)
    return [
        Result(
            what=f"donor export CSV, {rows:,} donors",
            figure=export_s,
            unit="s",
            baseline="COPY (SELECT …) TO STDOUT, s",
            baseline_figure=copy_s,
            ratio=export_s / copy_s,
            at_most=3,
            details={
                "rounds": rounds,
                "csv_bytes": exports[0]["bytes"],
                "copy_bytes": copies[0][1],
                "xlsx_seconds": xlsx["seconds"],
                "xlsx_ratio_to_copy": xlsx["seconds"] / copy_s,
            },
        ),
        Result(
            what=f"donor export CSV, {rows:,} donors: peak RSS",
            figure=peak,
            unit="MB",
            baseline="—",
            baseline_figure=None,
            ratio=peak,
            at_most=200,
        ),
        Result(
            what=f"donor export XLSX, {rows:,} donors: peak RSS",
            figure=xlsx["peak_rss_mb"],
            unit="MB",
            baseline="—",
            baseline_figure=None,
            ratio=xlsx["peak_rss_mb"],
            at_most=200,
            details={"seconds": xlsx["seconds"], "bytes": xlsx["bytes"]},
        ),
    ]
