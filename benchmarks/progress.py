"""Progress latency flat in history: the public progress API (as of today and as of a past
date), the home page and the back-office dashboard, median of many requests through the Flask
test client, with 1,000 gifts and then with 1,000,000 (100,000 with --quick).

The first thousand gifts are imported and projected as in production. The rest are written
straight into the read models' tables by SQL (the projection at its own speed would take the
bench most of an hour), and the running sums are counted again from every row by SQL; before
that, the same SQL is checked to give exactly the sums the projection kept for the first
thousand, and afterwards every figure measured is checked against the full recount
(`projections.reports.recount_progress`).
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.common import Result, postgres_database

SLUG = "fare-legami-anni-2-3"
PAST = date(2017, 8, 17)  # thirteen whole months of gifts and seventeen days of the next

BULK_GIFTS = """
INSERT INTO gifts_view (donation_id, source_key, campaign, value_date, channel, method,
    district, stand, amount_cents, people, identified, status, refunded_cents, fees_cents,
    recorded_at)
SELECT 'bulk-' || n, 'bulk:' || n, %(slug)s,
    to_char(DATE '2016-07-01' + (n %% 700), 'YYYY-MM-DD'),
    (ARRAY['stand', 'online', 'bank', 'event', 'other'])[1 + n %% 5], 'card',
    (ARRAY['', 'Cremona', 'Crema', 'Casalmaggiore'])[1 + (n / 7) %% 4], '',
    1000 + (n %% 50) * 100,
    CASE WHEN n %% 5 = 0 THEN 1 + n %% 20 ELSE 1 END,
    CASE WHEN n %% 5 = 0 THEN 0 ELSE 1 END,
    CASE WHEN n %% 50 = 3 THEN 'pending' WHEN n %% 97 = 4 THEN 'failed' ELSE 'confirmed' END,
    CASE WHEN n %% 100 = 1 THEN 500 ELSE 0 END,
    CASE WHEN n %% 5 = 1 THEN 45 ELSE 0 END,
    '2026-01-01T00:00:00+00:00'
FROM generate_series(1, %(rows)s) AS n
"""
BULK_REGISTRY = """
INSERT INTO registry_gifts (donation_id, donor_id, campaign, value_date, amount_cents, status)
SELECT donation_id, 'bulk-donor-' || (substr(donation_id, 6)::int %% %(donors)s), campaign,
    value_date, amount_cents, status
FROM gifts_view WHERE identified = 1 AND donation_id LIKE 'bulk-%%'
"""
BULK_REFUNDS = """
INSERT INTO money_movements (movement_key, donation_id, campaign, kind, amount_cents, on_date,
    channel, district)
SELECT 'refund:bulk-' || donation_id, donation_id, campaign, 'refund', refunded_cents,
    to_char(value_date::date + 3, 'YYYY-MM-DD'), channel, district
FROM gifts_view WHERE refunded_cents > 0 AND status = 'confirmed' AND donation_id LIKE 'bulk-%%'
"""
# The running sums of projections.day_sums, counted from every row at once.
RECOUNT_SUMS = (
    "DELETE FROM campaign_days",
    """INSERT INTO campaign_days (campaign, grain, period, channel, district, received_cents,
        fees_cents, gifts, identified_gifts, anonymous_people, refunded_cents, disputed_cents,
        movements)
    SELECT campaign, g.grain, CASE WHEN g.grain = 'd' THEN day
        WHEN g.grain = 'm' THEN substr(day, 1, 7) ELSE substr(day, 1, 4) END,
        channel, district, SUM(received), SUM(fees), SUM(gifts), SUM(identified),
        SUM(anonymous), SUM(refunded), SUM(disputed), SUM(movements)
    FROM (
        SELECT campaign, value_date AS day, channel, district, amount_cents AS received,
            fees_cents AS fees, 1 AS gifts, identified,
            CASE WHEN identified = 0 THEN people ELSE 0 END AS anonymous, 0 AS refunded,
            0 AS disputed, 0 AS movements
        FROM gifts_view WHERE status = 'confirmed'
        UNION ALL
        SELECT campaign, on_date, channel, district, 0, 0, 0, 0, 0,
            CASE WHEN kind = 'refund' THEN amount_cents ELSE 0 END,
            CASE WHEN kind = 'dispute_lost' THEN amount_cents ELSE 0 END, 1
        FROM money_movements
    ) AS x CROSS JOIN (VALUES ('d'), ('m'), ('y')) AS g (grain)
    GROUP BY 1, 2, 3, 4, 5""",
    "DELETE FROM registry_firsts",
    """INSERT INTO registry_firsts (donor_id, campaign, first_day)
    SELECT donor_id, campaign, MIN(value_date) FROM registry_gifts WHERE status = 'confirmed'
    GROUP BY donor_id, campaign""",
    "DELETE FROM registry_new_donors",
    """INSERT INTO registry_new_donors (campaign, grain, period, donors)
    SELECT campaign, g.grain, CASE WHEN g.grain = 'd' THEN first_day
        WHEN g.grain = 'm' THEN substr(first_day, 1, 7) ELSE substr(first_day, 1, 4) END,
        COUNT(*)
    FROM registry_firsts CROSS JOIN (VALUES ('d'), ('m'), ('y')) AS g (grain)
    GROUP BY 1, 2, 3""",
)
SUM_TABLES = ("campaign_days", "registry_firsts", "registry_new_donors")


def _rows(connection: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    return sorted(connection.execute(f"SELECT * FROM {table}").fetchall())


def _recount_sums(url: str) -> None:
    with psycopg.connect(url) as connection:
        for sql in RECOUNT_SUMS:
            connection.execute(sql)


def _check_recount_matches_projection(url: str) -> None:
    """The SQL recount gives the very rows the projection kept (rows summing to nothing,
    which a gift confirmed then failed leaves, aside)."""
    with psycopg.connect(url) as connection:
        kept = {table: _rows(connection, table) for table in SUM_TABLES}
    kept["campaign_days"] = [row for row in kept["campaign_days"] if any(row[5:])]
    kept["registry_new_donors"] = [row for row in kept["registry_new_donors"] if row[3]]
    _recount_sums(url)
    with psycopg.connect(url) as connection:
        for table in SUM_TABLES:
            if _rows(connection, table) != kept[table]:
                raise AssertionError(f"the bench's SQL recount of {table} differs")


def _add_gifts(url: str, rows: int) -> None:
    with psycopg.connect(url) as connection:
        connection.execute(BULK_GIFTS, {"slug": SLUG, "rows": rows})
        connection.execute(BULK_REGISTRY, {"donors": max(rows // 3, 1)})
        connection.execute(BULK_REFUNDS)
    _recount_sums(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def _side_by_side(
    small: Callable[[], Any], large: Callable[[], Any], times: int
) -> tuple[float, float]:
    """Median milliseconds of each, their calls alternating so that the machine's other work
    weighs on both alike."""
    for _ in range(5):
        small()
        large()
    spent: tuple[list[float], list[float]] = ([], [])
    for _ in range(times):
        for call, into in ((small, spent[0]), (large, spent[1])):
            started = time.perf_counter()
            call()
            into.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent[0]), statistics.median(spent[1])


def _requests(app: Any) -> dict[str, Callable[[], None]]:
    """What is measured: one call each, failing loudly on anything but 200."""
    public = app.test_client()
    office = app.test_client()
    office.post("/login", data={"email": "staff@example.org", "password": "una-password-lunga"})

    def get(client: Any, path: str) -> Callable[[], None]:
        def call() -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise AssertionError(f"{path}: {response.status_code}")

        return call

    return {
        "progress API, today": get(public, f"/api/v1/campaigns/{SLUG}/progress"),
        f"progress API, as of {PAST}": get(
            public, f"/api/v1/campaigns/{SLUG}/progress?as_of={PAST}"
        ),
        "home page": get(public, "/"),
        "dashboard": get(office, "/admin/"),
    }


def _check_figures(store: Any) -> dict[str, float]:
    """Every figure as the full recount has it; returns how long the recount took (ms)."""
    from ledger.dates import today
    from projections.reports import campaign_progress, list_campaigns, recount_progress

    spent = {}
    with store.database.reading() as session:
        [campaign] = [c for c in list_campaigns(session) if c.slug == SLUG]
        for day in (today(), PAST):
            started = time.perf_counter()
            recounted = recount_progress(session, campaign, day)
            spent[f"full recount as of {day}"] = (time.perf_counter() - started) * 1000
            if campaign_progress(session, campaign, day) != recounted:
                raise AssertionError(f"running sums differ from the recount as of {day}")
    return spent


def _ledger(url: str, gifts: int, tmp: str) -> Any:
    """A ledger of `gifts` gifts: a thousand imported and projected, the rest by SQL."""
    from ledger.csv_import import import_donations
    from projections.store import LedgerStore
    from tests.synthetic import write_donations_csv
    from web.cli import DEMO_CAMPAIGNS

    store = LedgerStore.open(url)
    for campaign in DEMO_CAMPAIGNS:
        store.app.start_campaign(*campaign)
    store.app.add_user("staff@example.org", "staff", "una-password-lunga")
    imported = min(gifts, 1_000)
    report = import_donations(store.app, write_donations_csv(Path(tmp) / "g.csv", imported))
    assert report.ok and report.new == imported
    store.runner.catch_up()
    _check_recount_matches_projection(url)
    if gifts > imported:
        _add_gifts(url, gifts - imported)
    _check_figures(store)
    return store


def run(options: argparse.Namespace) -> list[Result]:
    from web import create_app

    small, large = 1_000, 100_000 if options.quick else 1_000_000
    times = 60 if options.quick else 300
    with (
        postgres_database() as small_url,
        postgres_database() as large_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stores = [_ledger(small_url, small, tmp), _ledger(large_url, large, tmp)]
        apps = [
            create_app({"SECRET_KEY": "bench", "LEDGER_DATABASE_URL": u, "WTF_CSRF_ENABLED": False})
            for u in (small_url, large_url)
        ]
        calls = [_requests(app) for app in apps]
        medians = {what: _side_by_side(calls[0][what], calls[1][what], times) for what in calls[0]}
        recount = _check_figures(stores[1])
        for app in apps:
            app.extensions["ledger_store"].close()
        for store in stores:
            store.close()
    return [
        Result(
            what=f"{what}: {large:,} gifts vs {small:,}",
            figure=spent[1],
            unit="ms",
            baseline=f"{small:,} gifts",
            baseline_figure=spent[0],
            ratio=spent[1] / spent[0],
            at_most=1.2,
            details={"median_of": times, "calls": "alternating", **recount},
        )
        for what, spent in medians.items()
    ]
