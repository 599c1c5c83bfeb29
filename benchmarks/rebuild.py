"""`ledger rebuild` and a follower's catch-up against the raw notification read of the same
PostgreSQL store (issue 12, point 4).

The store is built first (not measured): synthetic gifts (tests/synthetic.py: four in five
identified, repeat donors, stand tallies) recorded through the ledger's application in large
batches, then refunds, fees, corrections and confirmations on some of them. Then, each in a
child process of its own (peak RSS is that process's): the event store's own
`select_notifications`, 500 a page, over every event; `ledger rebuild`; and a follower that
catches up from nothing, as `ledger project --follow` does on a new machine.

A third row is the floor under both: PostgreSQL alone writing the rows the read models hold
once caught up (each table copied by one `INSERT … SELECT` into an empty copy with the same
indexes and keys), with no Python, no decoding and no round trip at all. No way of applying
the events can write those rows faster than that on the same server.
"""

import argparse
import random
import time
from datetime import date
from typing import Any

from benchmarks.common import Result, in_child, postgres_database

EVENTS = 1_000_000
QUICK_EVENTS = 50_000
TARGET = 0.3
PAGE = 500
CAMPAIGN = "fare-legami-anni-2-3"


def build(url: str, events: int) -> dict[str, Any]:
    """Record about `events` events: gifts in batches, then changes to one gift in fifty."""
    from eventsourcing.application import AggregateNotFoundError

    from ledger.csv_rows import parse_row
    from ledger.donation import Donation
    from projections.store import LedgerStore
    from tests.synthetic import synthetic_row
    from web.cli import DEMO_CAMPAIGNS

    store = LedgerStore.open(url)
    for campaign in DEMO_CAMPAIGNS:
        store.app.start_campaign(*campaign)
    rng = random.Random(12)
    gifts = events * 49 // 50
    batch = 2_000
    for first in range(0, gifts, batch):
        rows = [synthetic_row(i, rng, CAMPAIGN) for i in range(first, min(first + batch, gifts))]
        store.app.record_gifts([parse_row(row, f"csv:{row['reference']}")[0] for row in rows])
    day = date(2018, 6, 1)
    changed = []
    for index in range(1, gifts, 50):
        try:
            donation: Donation = store.app.repository.get(
                Donation.create_id(f"csv:SYN-{index:07d}")
            )
        except AggregateNotFoundError:  # pragma: no cover - every row was recorded above
            continue
        kind = index % 3
        if kind == 0:
            donation.refund(f"re_{index}", 500, day, "richiesta del donatore")
        elif kind == 1:
            donation.record_fee(35 + index % 7, "stripe")
        else:
            donation.correct(donation.amount_cents + 1_000, day, "importo", "staff@example.org")
        changed.append(donation)
        if len(changed) == 200:
            store.app.save(*changed)
            changed = []
    store.app.save(*changed)
    head = store.app.recorder.max_notification_id() or 0
    store.close()
    return {"events": head}


def raw_read(url: str) -> dict[str, Any]:
    """Every notification, `PAGE` at a time, as the event store itself reads them."""
    from projections.store import LedgerStore

    store = LedgerStore.open(url, create_tables=False)
    recorder = store.app.recorder
    started = time.perf_counter()
    position, read = 0, 0
    while page := recorder.select_notifications(start=position + 1, limit=PAGE):
        read += len(page)
        position = page[-1].id
    seconds = time.perf_counter() - started
    store.close()
    return {"events": read, "seconds": seconds}


def rebuild(url: str) -> dict[str, Any]:
    """`ledger rebuild`: every read model built beside the serving one, then swapped in."""
    from projections.store import LedgerStore

    store = LedgerStore.open(url)
    head = store.app.recorder.max_notification_id() or 0
    started = time.perf_counter()
    store.runner.rebuild()
    seconds = time.perf_counter() - started
    assert store.runner.stalls() == [] and store.runner.lag() == 0
    store.close()
    return {"events": head, "seconds": seconds}


def catch_up(url: str) -> dict[str, Any]:
    """A follower starting on a store whose read models are empty, until it has caught up."""
    from projections.store import LedgerStore

    store = LedgerStore.open(url)
    with store.database.transaction() as session:
        for projection in store.runner.projections:
            projection.drop_tables(session)
        session.execute("DELETE FROM projection_positions")
    store.runner.setup()
    head = store.app.recorder.max_notification_id() or 0
    started = time.perf_counter()
    while store.runner.catch_up():
        pass
    seconds = time.perf_counter() - started
    assert store.runner.stalls() == [] and store.runner.lag() == 0
    store.close()
    return {"events": head, "seconds": seconds}


def floor(url: str) -> dict[str, Any]:
    """The read models' rows written again by PostgreSQL alone, in one transaction: the time
    to write what a rebuild must write, with nothing else to do."""
    import psycopg

    from projections.store import LedgerStore, read_models

    store = LedgerStore.open(url, create_tables=False)
    head = store.app.recorder.max_notification_id() or 0
    store.close()
    tables = [table for projection in read_models() for table in projection.tables]
    with psycopg.connect(url) as connection:
        rows = 0
        started = time.perf_counter()
        for table in tables:
            connection.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
            rows += connection.execute(f"INSERT INTO floor_{table} SELECT * FROM {table}").rowcount
        connection.commit()
        seconds = time.perf_counter() - started
        for table in tables:
            connection.execute(f"DROP TABLE floor_{table}")
    return {"events": head, "rows": rows, "seconds": seconds}


def run(options: argparse.Namespace) -> list[Result]:
    events = QUICK_EVENTS if options.quick else EVENTS
    with postgres_database("fondo_bench_rebuild") as url:
        built = in_child("benchmarks.rebuild:build", url, events)
        raw = in_child("benchmarks.rebuild:raw_read", url)
        rebuilt = in_child("benchmarks.rebuild:rebuild", url)
        followed = in_child("benchmarks.rebuild:catch_up", url)
        least = in_child("benchmarks.rebuild:floor", url)
    raw_rate = raw["events"] / raw["seconds"]
    baseline = f"select_notifications, {PAGE} a page"
    results = []
    for what, measured in (
        (f"ledger rebuild, {built['events']:,} events", rebuilt),
        (f"follower catch-up from nothing, {built['events']:,} events", followed),
        (
            f"the floor: PostgreSQL alone writing the read models' {least['rows']:,} rows "
            "(INSERT … SELECT, same indexes)",
            least,
        ),
    ):
        rate = measured["events"] / measured["seconds"]
        results.append(
            Result(
                what=what,
                figure=rate,
                unit="events/s",
                baseline=baseline,
                baseline_figure=raw_rate,
                ratio=rate / raw_rate,
                at_least=TARGET,
                details={
                    "events": measured["events"],
                    "seconds": round(measured["seconds"], 2),
                    "peak_rss_mb": round(measured["peak_rss_mb"], 1),
                    "baseline_seconds": round(raw["seconds"], 2),
                    "baseline_peak_rss_mb": round(raw["peak_rss_mb"], 1),
                },
            )
        )
    return results
