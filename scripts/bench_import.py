"""Import, projection and export throughput and memory, at two sizes side by side on both stores.

Each measurement runs in a child process so that its peak memory (ru_maxrss) is its own.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POSTGRES_ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def measure(url: str, csv_path: str) -> dict[str, float]:
    """Run in the child: import the file, then catch the read models up."""
    from ledger.csv_import import import_donations
    from projections.store import LedgerStore
    from web.cli import DEMO_CAMPAIGNS

    store = LedgerStore.open(url)
    for campaign in DEMO_CAMPAIGNS:
        store.app.start_campaign(*campaign)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = import_donations(store.app, Path(csv_path))
    imported = time.perf_counter()
    again = import_donations(store.app, Path(csv_path))
    reimported = time.perf_counter()
    store.runner.catch_up()
    projected = time.perf_counter()
    assert report.ok and report.new == report.rows and again.new == 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store.close()
    return {
        "rows": report.rows,
        "import_s": imported - started,
        "reimport_s": reimported - imported,
        "project_s": projected - reimported,
        "extra_rss_mb": (peak - baseline) / 1024,
    }


def child(url: str, csv_path: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", url, csv_path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


# Runs `ledger` and prints the peak memory of that process alone.
MEASURED_CLI = """
import resource, sys
from web.cli import main
try:
    main(sys.argv[1:])
finally:
    print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def export_peaks(url: str, tmp: str) -> dict[str, float]:
    """Peak memory (MB) of `ledger export donations` (CSV) and `export donors` (XLSX)."""
    peaks = {}
    for key, args in (
        ("export_csv_mb", ["export", "donations"]),
        ("export_xlsx_mb", ["export", "donors", "--format", "xlsx"]),
    ):
        out = Path(tmp) / f"export-{uuid.uuid4().hex}"
        result = subprocess.run(
            [sys.executable, "-c", MEASURED_CLI, *args, "--out", str(out)],
            cwd=ROOT,
            env={**os.environ, "LEDGER_DATABASE_URL": url},
            check=True,
            capture_output=True,
            text=True,
        )
        line = next(ln for ln in result.stderr.splitlines() if ln.startswith("MAXRSS_KB"))
        peaks[key] = int(line.split()[1]) / 1024
        out.unlink()
    return peaks


def postgres_database() -> tuple[str, str]:
    name = f"fondo_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop(name: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ratio(large: float, small: float) -> float:
    """Memory growth below 1 MB is noise: count it as 1 MB."""
    return max(large, 1) / max(small, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    from tests.synthetic import write_donations_csv

    with tempfile.TemporaryDirectory() as tmp:
        files = {
            size: str(write_donations_csv(Path(tmp) / f"{size}.csv", size))
            for size in (args.small, args.large)
        }
        print(
            f"{'store':9} {'rows':>8} {'import s':>9} {'rows/s':>8} {'re-import s':>11} "
            f"{'project s':>9} {'extra RSS MB':>12} {'export CSV MB':>13} "
            f"{'export XLSX MB':>14}"
        )
        for kind in args.stores.split(","):
            results = {}
            for size, path in files.items():
                if kind == "sqlite":
                    url = f"sqlite:///{tmp}/{size}.sqlite3"
                    results[size] = child(url, path) | export_peaks(url, tmp)
                else:
                    name, url = postgres_database()
                    try:
                        results[size] = child(url, path) | export_peaks(url, tmp)
                    finally:
                        drop(name)
                r = results[size]
                print(
                    f"{kind:9} {size:>8} {r['import_s']:>9.1f} {size / r['import_s']:>8.0f} "
                    f"{r['reimport_s']:>11.1f} {r['project_s']:>9.1f} "
                    f"{r['extra_rss_mb']:>12.1f} {r['export_csv_mb']:>13.1f} "
                    f"{r['export_xlsx_mb']:>14.1f}"
                )
            small, large = results[args.small], results[args.large]
            scale = args.large / args.small
            per_row_bytes = (
                (large["extra_rss_mb"] - small["extra_rss_mb"])
                * 1024
                * 1024
                / (args.large - args.small)
            )
            print(
                f"{kind:9} ratios {args.large}/{args.small} rows (x{scale:.0f}): "
                f"import time x{large['import_s'] / small['import_s']:.1f}, "
                f"projection time x{large['project_s'] / small['project_s']:.1f}, "
                f"extra memory x{_ratio(large['extra_rss_mb'], small['extra_rss_mb']):.1f}, "
                f"export peak memory x{large['export_csv_mb'] / small['export_csv_mb']:.2f} "
                f"(CSV), x{large['export_xlsx_mb'] / small['export_xlsx_mb']:.2f} (XLSX), "
                f"{per_row_bytes:.0f} bytes a row (rows are never held; each keeps only its "
                "key, to find a reference repeated in the file)"
            )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
    else:
        main()
