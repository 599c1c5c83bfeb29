"""Read models: exactly-once tracking, catch-up, rebuild identical to incremental, the events
each one declares it handles."""

import ast
import inspect
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from eventsourcing.domain import DomainEvent

from ledger.campaign import Campaign
from ledger.csv_import import import_donations
from ledger.event_store import one_transaction
from ledger.identity import DonorDetails
from projections import runner as runner_module
from projections.database import Session
from projections.registry import Registry
from projections.reports import progress
from projections.runner import Projection, ProjectionRunner
from projections.store import LedgerStore, read_models
from projections.totals import CampaignTotals
from tests.helpers import SLUG, YEAR1, dump, figures, gift, named_gift, start_campaigns

YEAR1_DAY = date(2015, 7, 20)


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

    def apply_batch(self, session: Session, events: Sequence[tuple[int, Any]]) -> None:
        kept = max(self.left, 0)
        self.left -= len(events)
        super().apply_batch(session, events[:kept])
        if self.left < 0:
            raise OSError("power cut")


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


class NextTotals(CampaignTotals):
    """The campaign totals as the next release would ship them: same tables, a new version."""

    version = CampaignTotals.version + 1


def served(store: LedgerStore) -> dict[str, tuple[int, int]]:
    """The rows of projection_positions: name → (version, position)."""
    with store.database.reading() as session:
        return {
            name: (version, position)
            for name, version, position in session.query(
                "SELECT name, version, position FROM projection_positions"
            )
        }


def tables(store: LedgerStore) -> set[str]:
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if store.database.dialect == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    with store.database.reading() as session:
        return {name for (name,) in session.query(sql)}


def year1(store: LedgerStore) -> tuple[int, int, int]:
    """The year-1 figures as the pages read them, without catching up first."""
    [row] = progress(store.database, "fare-legami-anno-1", date(2030, 1, 1))
    return row["raised_cents"], row["donors"], row["contacts"]


def test_a_new_projection_version_is_built_beside_the_old_one_then_swapped_in(
    store_url: str,
) -> None:
    store = LedgerStore.open(store_url)
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    store.runner.catch_up()
    head = store.app.recorder.max_notification_id() or 0
    before = tables(store)
    store.close()

    reopened = LedgerStore.open(store_url)
    reopened.runner.projections[0] = NextTotals()
    reopened.runner.setup()
    # The old version still serves its figures while the new one is built beside it.
    assert served(reopened)["campaign_totals"] == (CampaignTotals.version, head)
    [building] = [name for name in served(reopened) if name.startswith("campaign_totals@")]
    assert served(reopened)[building] == (NextTotals.version, 0)
    assert year1(reopened) == (4_270_800, 2_289, 324)
    assert len(tables(reopened) - before) == len(CampaignTotals.tables)

    assert reopened.runner.catch_up() == head
    assert served(reopened)["campaign_totals"] == (NextTotals.version, head)
    assert [name for name in served(reopened) if "@" in name] == []
    assert tables(reopened) == before
    assert year1(reopened) == (4_270_800, 2_289, 324)
    reopened.close()


def test_readers_see_the_old_figures_until_the_swap_and_never_an_empty_total(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LedgerStore.open(store_url)
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    store.runner.catch_up()
    expected = year1(store)
    store.close()
    # Small batches: the new version takes many transactions to build, readers between them.
    monkeypatch.setattr(runner_module, "BATCH", 40)
    bumped = LedgerStore.open(store_url)
    bumped.runner.projections[0] = NextTotals()
    bumped.runner.setup()

    seen: list[tuple[int, int, int]] = []
    read = threading.Condition()
    building = threading.Event()
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            figures_now = year1(bumped)
            with read:
                seen.append(figures_now)
                read.notify_all()

    def after_each_batch(applied: int, _head: int) -> None:
        building.set()
        # Let the readers in between two batches of the build.
        with read:
            wanted = len(seen) + 2
            read.wait_for(lambda: len(seen) >= wanted, timeout=30)

    with ThreadPoolExecutor(max_workers=3) as pool:
        readers = [pool.submit(reader) for _ in range(3)]
        try:
            applied = bumped.runner.catch_up(progress=after_each_batch)
        finally:
            done.set()
        for future in readers:
            future.result()

    head = bumped.app.recorder.max_notification_id() or 0
    assert building.is_set() and applied == head
    assert len(seen) >= 2 * (head // 40)
    assert set(seen) == {expected}
    assert expected == (4_270_800, 2_289, 324)
    assert served(bumped)["campaign_totals"] == (NextTotals.version, head)
    bumped.close()


def test_catch_up_passes_the_gap_a_rolled_back_write_leaves_in_the_ids(
    store: LedgerStore,
) -> None:
    """On PostgreSQL a rolled-back insert still takes its notification ids: the read models
    must go on past the gap, not wait for ids that will never come."""
    start_campaigns(store)
    store.runner.catch_up()
    first = gift("bank:GAP-1", 1_000)
    with pytest.raises(RuntimeError), one_transaction(store.app.recorder) as append:
        append(store.app.stored_events_for([first], set()))
        raise RuntimeError("the import stops: nothing of it is kept")
    store.app.record_gifts([gift("bank:GAP-2", 2_000)])
    head = store.app.recorder.max_notification_id()
    assert store.runner.catch_up() >= 1
    with store.database.reading() as session:
        positions = {p for (p,) in session.query("SELECT position FROM projection_positions")}
    assert positions == {head}
    assert figures(store)["raised_cents"] == 2_000


def dispatched_events(projection: type[Projection]) -> set[type]:
    """The event classes a read model's code tests events against (`isinstance(event, X)`,
    `X | Y` or a tuple), in the class and in its module's functions: what `apply` acts on."""
    module = sys.modules[projection.__module__]
    tree = ast.parse(inspect.getsource(module))
    code = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        or (isinstance(node, ast.ClassDef) and node.name == projection.__name__)
    ]
    found: set[type] = set()
    for node in (inner for part in code for inner in ast.walk(part)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
        ):
            for named in _alternatives(node.args[1]):
                value = _resolved(named, vars(module))
                if isinstance(value, type) and issubclass(value, DomainEvent):
                    found.add(value)
    return found


def _alternatives(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return [*_alternatives(node.left), *_alternatives(node.right)]
    if isinstance(node, ast.Tuple):
        return [named for element in node.elts for named in _alternatives(element)]
    return [node]


def _resolved(node: ast.expr, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_resolved(node.value, names), node.attr, None)
    return None


def unhandled(projection: type[Projection]) -> set[type]:
    """Event classes the read model acts on but leaves out of `handles` (the default
    `apply_batch` would never hand them to `apply`)."""
    return {
        event
        for event in dispatched_events(projection)
        if not issubclass(event, projection.handles)
    }


@pytest.mark.parametrize(
    "projection",
    [type(model) for model in read_models() if model.handles],
    ids=lambda projection: projection.name,
)
def test_a_read_model_handles_every_event_its_apply_acts_on(
    projection: type[Projection],
) -> None:
    assert dispatched_events(projection), "no event class found: the check would see nothing"
    assert unhandled(projection) == set()


class Forgetful(Projection):
    """Acts on two events but declares one."""

    name, version, tables = "forgetful", 1, ()
    handles = (Campaign.Started,)

    def create_tables(self, session: Session) -> None:
        pass

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, Campaign.Started | Campaign.Ended):
            pass


def test_the_handles_check_sees_a_forgotten_event() -> None:
    assert unhandled(Forgetful) == {Campaign.Ended}


def test_a_gift_recorded_while_the_registry_applies_a_batch_shows_in_the_totals_at_once(
    store: LedgerStore,
) -> None:
    start_campaigns(store)
    store.app.record_gifts([gift(f"pi_{index}", 1_000) for index in range(30)])
    head = store.app.recorder.max_notification_id() or 0
    later: list[int] = []

    def record_one_more(_applied: int, _head: int) -> None:
        # Called between the read models' transactions: the first time, right after the
        # totals applied their part of the batch and before the registry applies its own.
        if not later:
            store.app.record_gift(gift("pi_later", 2_500))
            later.append(store.app.recorder.max_notification_id() or 0)

    store.runner.catch_up(progress=record_one_more)

    with store.database.reading() as session:
        positions = dict(session.query("SELECT name, position FROM projection_positions"))
    # The totals went on to the gift recorded meanwhile; the registry stopped at the events
    # committed before the call, as every read model that does not lead.
    assert positions["campaign_totals"] == later[0] > head
    assert positions["registry"] == head
    assert progress(store.database, SLUG, date(2030, 1, 1))[0]["raised_cents"] == 32_500
    store.runner.catch_up()
    assert progress(store.database, SLUG, date(2030, 1, 1))[0]["raised_cents"] == 32_500


def _sequential_scans(store: LedgerStore, tables: Sequence[str]) -> dict[str, int]:
    with store.database.transaction() as session:
        session.execute("SELECT pg_stat_force_next_flush()")
    with store.database.transaction() as session:
        session.execute("SELECT pg_stat_clear_snapshot()")
        rows = session.query(
            "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname IN "
            f"({', '.join('?' * len(tables))})",
            list(tables),
        )
    return dict(rows)


def test_a_read_model_grown_large_is_read_by_its_indexes_not_scanned_whole(
    postgres_url: str,
) -> None:
    """A follower prepares its statements while the read models are new and small: the plan
    made then (scan the table, it is tiny) must not stay once the tables are large, or each
    batch costs a scan of every row already projected."""
    store = LedgerStore.open(postgres_url)
    try:
        start_campaigns(store)
        tables = ("registry_donors", "registry_gifts", "registry_firsts", "registry_keys")
        with store.database.transaction() as session:
            for table in tables:  # no analyze comes to change the plans meanwhile
                session.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        # Many small batches while the tables are small: the statements get prepared.
        for index in range(20):
            store.app.record_gifts([named_gift(f"pi_small_{index}_{n}") for n in range(3)])
            store.runner.catch_up()
        store.app.record_gifts([named_gift(f"pi_large_{index}") for index in range(20_000)])
        store.runner.catch_up()
        before = _sequential_scans(store, tables)
        # A new donor and a donor already known: the batch reads and rewrites both.
        again = DonorDetails.parse(first_name="Maria", email="pi_large_7@example.org")
        store.app.record_gifts(
            [named_gift("pi_new"), gift("pi_again", details=again, privacy_consent=True)]
        )
        store.runner.catch_up()
        assert _sequential_scans(store, tables) == before
    finally:
        store.close()
