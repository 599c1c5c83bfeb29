"""An import is one transaction: a failure, a clash or a kill part-way leaves the ledger as was."""

import contextlib
import csv
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.csv_import import WRITE_BATCH, FileError, import_donations
from ledger.gift import Gift
from projections.store import LedgerStore
from tests.helpers import ROOT, figures, gift, start_campaigns
from tests.synthetic import write_donations_csv

ROWS = 2 * WRITE_BATCH + 50  # the last batch is a partial one


def ledger_before(store: LedgerStore) -> tuple[int, dict[str, Any]]:
    """Some gifts already recorded, so that 'as before' is not simply 'empty'."""
    start_campaigns(store)
    store.app.record_gifts([gift("bank:CRO-1", 12_345), gift("bank:CRO-2", 50_000)])
    return state(store)


def state(store: LedgerStore) -> tuple[int, dict[str, Any]]:
    """How many events are recorded (PostgreSQL's ids have gaps after a rollback: counted,
    not the last id), and the figures."""
    return len(store.app.recorder.select_notifications(1, 10**6)), figures(store)


def synthetic_total(path: Path) -> int:
    """The file's raised cents, read with the csv module, not the importer."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return sum(
            int(row["amount"].replace(",", "")) for row in csv.DictReader(stream, delimiter=";")
        )


def test_a_failure_on_the_last_batch_leaves_the_ledger_as_it_was(
    store: LedgerStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ledger_before(store)
    path = write_donations_csv(tmp_path / "gifts.csv", ROWS)
    real = store.app.record_stored
    batches = []

    def failing_on_the_last_batch(spooled: Iterable[Sequence[StoredEvent]]) -> None:
        def batch_by_batch() -> Iterator[Sequence[StoredEvent]]:
            for events in spooled:
                batches.append(len(events))
                if len(batches) == 3:
                    raise RuntimeError("disk full")
                yield events

        real(batch_by_batch())

    monkeypatch.setattr(store.app, "record_stored", failing_on_the_last_batch)
    with pytest.raises(RuntimeError, match="disk full"):
        import_donations(store.app, path)
    # Two full batches were appended inside the transaction before the third failed.
    assert len(batches) == 3 and batches[0] == batches[1] == WRITE_BATCH
    assert state(store) == before

    monkeypatch.undo()
    report = import_donations(store.app, path)
    assert (report.new, report.already_recorded, report.written) == (ROWS, 0, True)
    after = figures(store)
    assert after["raised_cents"] == before[1]["raised_cents"] + synthetic_total(path)


def test_a_clashing_write_between_check_and_commit_leaves_nothing_of_the_file(
    store: LedgerStore, store_url: str, tmp_path: Path
) -> None:
    before = ledger_before(store)
    path = write_donations_csv(tmp_path / "gifts.csv", ROWS)
    other = LedgerStore.open(store_url)
    clash = Gift(
        source_key="csv:SYN-0000420",
        campaign="fare-legami-anni-2-3",
        amount_cents=1,
        value_date=date(2017, 1, 1),
        channel="bank",
        method="bank_transfer",
    )
    ticks = [0]

    def meanwhile(_line: int) -> None:
        ticks[0] += 1
        if ticks[0] == ROWS + 1:  # the write pass has begun: another desk records row 421
            other.app.record_gift(clash)

    try:
        report = import_donations(store.app, path, on_row=meanwhile)
    finally:
        other.close()
    assert not report.written and [e.line for e in report.errors] == [422]
    assert "other figures" in report.errors[0].message
    head, after = state(store)
    assert head == before[0] + 1  # the other desk's gift, and nothing of the file
    assert after["raised_cents"] == before[1]["raised_cents"] + 1


def test_a_file_changed_while_it_is_read_is_not_imported(
    store: LedgerStore, tmp_path: Path
) -> None:
    before = ledger_before(store)
    path = write_donations_csv(tmp_path / "gifts.csv", ROWS)
    ticks = [0]

    def edit(_line: int) -> None:
        ticks[0] += 1
        if ticks[0] == ROWS // 2:  # half read: someone saves the file with a new amount
            text = path.read_text(encoding="utf-8-sig")
            path.write_text(text.replace(";50,00;", ";90,00;", 1), encoding="utf-8-sig")

    with pytest.raises(FileError, match="changed"):
        import_donations(store.app, path, on_row=edit)
    assert state(store) == before


def test_what_is_written_is_what_was_checked_whatever_the_file_becomes(
    store: LedgerStore, tmp_path: Path
) -> None:
    """The file is read once: a change saved after the check reaches nothing that is written."""
    before = ledger_before(store)
    path = write_donations_csv(tmp_path / "gifts.csv", ROWS)
    total = synthetic_total(path)

    ticks = [0]

    def after_the_check(_line: int) -> None:
        ticks[0] += 1
        if ticks[0] == ROWS + 1:  # writing has begun: the file is emptied
            path.write_text("date;campaign\n", encoding="utf-8")

    report = import_donations(store.app, path, on_row=after_the_check)
    assert report.written and report.new == ROWS
    assert figures(store)["raised_cents"] == before[1]["raised_cents"] + total


KILLS = 4


def ledger_import(url: str, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "web.cli", "import", "donations", str(path)],
        cwd=ROOT,
        env={**os.environ, "LEDGER_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def writing(url: str, table: str) -> bool:
    """Whether some process holds the event store's write lock (the import's transaction)."""
    if url.startswith("sqlite"):
        with contextlib.closing(
            sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        ) as probe:
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True
            probe.execute("ROLLBACK")
            return False
    with psycopg.connect(url, autocommit=True) as probe:
        return bool(
            probe.execute(
                "SELECT 1 FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation "
                "WHERE relname = %s AND mode = 'ExclusiveLock' AND granted",
                (table,),
            ).fetchone()
        )


def wait_for_a_long_write(process: subprocess.Popen[bytes], url: str, table: str) -> bool:
    """Wait until the import holds the write lock for a while: its one transaction (setting
    up and storing keys write for a moment only); False when it ended first."""
    held = 0
    while process.poll() is None and held < 3:
        held = held + 1 if writing(url, table) else 0
        time.sleep(0.002)
    return held == 3


@pytest.mark.slow
def test_a_killed_import_leaves_the_ledger_as_it_was_and_runs_again_fully(
    store: LedgerStore, store_url: str, tmp_path: Path
) -> None:
    before = ledger_before(store)
    # The import's one transaction must last long enough for a kill to land inside it however
    # fast the machine writes: on SQLite a larger file (30,000 events take about 0.2 s), on
    # PostgreSQL a busy server's disk (each event half a millisecond more: 1.5 s).
    postgres = store_url.startswith("postgres")
    rows = 3_000 if postgres else 30_000
    path = write_donations_csv(tmp_path / "gifts.csv", rows)
    if postgres:
        with psycopg.connect(store_url, autocommit=True) as database:
            database.execute(
                "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(0.0005); RETURN NEW; END $$"
            )
            database.execute(
                f"CREATE TRIGGER slow_rows BEFORE INSERT ON {store.app.recorder.events_table_name} "
                "FOR EACH ROW EXECUTE FUNCTION slow_row()"
            )
    seed = random.randrange(10**6)
    print(f"kill seed {seed}")  # to replay a failing run
    rng = random.Random(seed)
    killed_while_writing = 0
    for kill in range(KILLS):
        process = ledger_import(store_url, path)
        if kill % 2 == 0:  # inside the one transaction, at a random moment of it
            in_transaction = wait_for_a_long_write(
                process, store_url, store.app.recorder.events_table_name
            )
            time.sleep(rng.uniform(0, 0.1))
        else:  # anywhere: start-up, check, keys, write, commit, catch-up
            in_transaction = False
            time.sleep(rng.uniform(0.1, 4.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        head, now = state(store)
        if head != before[0]:  # killed after the commit (catching up the read models)
            assert head == before[0] + rows
            break
        assert now == before[1]
        killed_while_writing += in_transaction
    assert killed_while_writing >= 1
    rerun = subprocess.run(
        [sys.executable, "-m", "web.cli", "import", "donations", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LEDGER_DATABASE_URL": store_url},
    )
    assert rerun.returncode == 0, rerun.stderr
    after = figures(store)
    assert after["raised_cents"] == before[1]["raised_cents"] + synthetic_total(path)
    report = import_donations(store.app, path, dry_run=True)
    assert (report.new, report.already_recorded) == (0, rows)
