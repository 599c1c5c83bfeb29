"""`ledger import donations` beside eventsourcing's own rate, and its memory at two sizes.

Baseline: the same number of small aggregates saved by a bare eventsourcing Application on a
fresh database of the same server, 100 per save() — what the event store itself sustains.
"""

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Result, in_child, postgres_database


def eventsourcing_rate(url: str, count: int) -> dict[str, Any]:
    """Child: save `count` one-event aggregates 100 per save(); aggregates per second."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate

    from ledger.application import store_env

    class Item(Aggregate):
        def __init__(self, reference: str, amount_cents: int) -> None:
            self.reference = reference
            self.amount_cents = amount_cents

    app: Application = Application(env=store_env(url))
    started = time.perf_counter()
    for start in range(0, count, 100):
        app.save(*(Item(f"SYN-{i:07d}", 2500) for i in range(start, min(start + 100, count))))
    seconds = time.perf_counter() - started
    app.close()
    return {"per_s": count / seconds, "seconds": seconds}


def fondo_import(url: str, csv_path: str) -> dict[str, Any]:
    """Child: import the file as `ledger import donations` does; rows per second."""
    from ledger.csv_import import import_donations
    from projections.store import LedgerStore
    from web.cli import DEMO_CAMPAIGNS

    store = LedgerStore.open(url)
    for campaign in DEMO_CAMPAIGNS:
        store.app.start_campaign(*campaign)
    started = time.perf_counter()
    report = import_donations(store.app, Path(csv_path))
    seconds = time.perf_counter() - started
    assert report.ok and report.written and report.new == report.rows, report
    store.close()
    return {"per_s": report.rows / seconds, "seconds": seconds, "rows": report.rows}


def run(options: argparse.Namespace) -> list[Result]:
    from tests.synthetic import write_donations_csv

    rows = 5_000 if options.quick else 20_000
    small, large = (2_000, 20_000) if options.quick else (10_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_donations_csv(Path(tmp) / "rows.csv", rows)
        with postgres_database() as url:
            base = in_child("benchmarks.imports:eventsourcing_rate", url, rows)
        with postgres_database() as url:
            fondo = in_child("benchmarks.imports:fondo_import", url, str(path))
        peaks = {}
        for size in (small, large):
            sized = write_donations_csv(Path(tmp) / f"{size}.csv", size)
            with postgres_database() as url:
                peaks[size] = in_child("benchmarks.imports:fondo_import", url, str(sized))
    growth = peaks[large]["peak_rss_mb"] / peaks[small]["peak_rss_mb"]
    return [
        Result(
            what=f"ledger import donations, {rows:,} rows",
            figure=fondo["per_s"],
            unit="rows/s",
            baseline="eventsourcing, 100 aggregates per save",
            baseline_figure=base["per_s"],
            ratio=fondo["per_s"] / base["per_s"],
            at_least=0.5,
            details={"fondo": fondo, "eventsourcing": base},
        ),
        Result(
            what=f"import peak RSS, {large:,} vs {small:,} rows",
            figure=peaks[large]["peak_rss_mb"],
            unit="MB",
            baseline=f"{small:,} rows (MB)",
            baseline_figure=peaks[small]["peak_rss_mb"],
            ratio=growth,
            at_most=1.5,
            details={str(k): v for k, v in peaks.items()},
        ),
    ]
