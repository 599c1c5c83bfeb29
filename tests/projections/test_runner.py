"""Read models: exactly-once tracking, catch-up, rebuild identical to incremental."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest

from ledger.csv_import import import_donations
from projections.database import Session
from projections.registry import Registry
from projections.runner import ProjectionRunner
from projections.store import LedgerStore
from projections.totals import CampaignTotals
from tests.conftest import YEAR1
from tests.ledger.test_csv_import import figures, start_campaigns

YEAR1_DAY = date(2015, 7, 20)
TABLES = ("campaigns_view", "gifts_view", "money_movements", "registry_donors", "stands_view",
          "registry_keys", "registry_gifts", "registry_aliases", "registry_consents",
          "audit_view")


def dump(store: LedgerStore) -> dict[str, list[tuple[Any, ...]]]:
    with store.database.reading() as session:
        return {table: sorted(session.query(f"SELECT * FROM {table}"), key=repr)
                for table in TABLES}


def test_rebuild_gives_read_models_identical_to_incremental(store: LedgerStore) -> None:
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    # incremental: applied in several catch-ups, with refunds and fees after the gifts
    store.runner.catch_up()
    store.app.refund("csv:FL1-000001", "re_1", 500, YEAR1_DAY, "partial")
    store.app.record_fee("csv:FL1-000001", 55, "test")
    store.runner.catch_up()
    incremental = dump(store)
    assert len(incremental["registry_donors"]) == 324
    store.runner.rebuild()
    assert dump(store) == incremental


def test_catch_up_applies_each_event_once(store: LedgerStore) -> None:
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    first = store.runner.catch_up()
    head = store.app.recorder.max_notification_id()
    assert first == head * len(store.runner.projections)
    assert store.runner.catch_up() == 0
    assert figures(store, "fare-legami-anno-1")["raised_cents"] == 4270800


class Exploding(CampaignTotals):
    """Fails in the middle of a batch, as a crash would."""

    def __init__(self, after: int) -> None:
        self.left = after

    def apply(self, session: Session, event: Any, position: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise OSError("power cut")
        super().apply(session, event, position)


def test_a_crash_mid_batch_neither_skips_nor_double_counts(store: LedgerStore) -> None:
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    crashing = ProjectionRunner(store.app, store.database, [Exploding(after=300), Registry()])
    with pytest.raises(OSError):
        crashing.catch_up()
    store.runner.catch_up()
    got = figures(store, "fare-legami-anno-1")
    assert (got["raised_cents"], got["donors"], got["contacts"]) == (4270800, 2289, 324)


def test_runners_in_parallel_do_not_double_count(store_url: str) -> None:
    first = LedgerStore.open(store_url)
    start_campaigns(first)
    import_donations(first.app, YEAR1 / "donations.csv")
    others = [LedgerStore.open(store_url) for _ in range(3)]
    with ThreadPoolExecutor(len(others)) as pool:
        runs = [pool.submit(s.runner.catch_up) for s in others]
    # .result() raises what a runner raised: a failing runner fails the test.
    applied = [run.result() for run in runs]
    assert all(count >= 0 for count in applied)
    got = figures(first, "fare-legami-anno-1")
    assert (got["raised_cents"], got["gifts"], got["contacts"]) == (4270800, 2413, 324)
    for s in [first, *others]:
        s.close()


def test_a_new_projection_version_is_rebuilt_from_the_events(store_url: str) -> None:
    store = LedgerStore.open(store_url)
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    store.runner.catch_up()
    store.close()

    class NextTotals(CampaignTotals):
        version = CampaignTotals.version + 1

    reopened = LedgerStore.open(store_url)
    reopened.runner.projections[0] = NextTotals()
    reopened.runner.setup()
    with reopened.database.reading() as session:
        assert session.scalar("SELECT COUNT(*) FROM gifts_view") == 0
    reopened.runner.catch_up()
    assert figures(reopened, "fare-legami-anno-1")["raised_cents"] == 4270800
    reopened.close()

