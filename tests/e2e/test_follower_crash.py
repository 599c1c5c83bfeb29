"""Crash recovery: `ledger project --follow` killed with SIGKILL at random points while it
catches up, restarted each time, ends with the read models a fresh rebuild gives.

The number of events is FONDO_CRASH_EVENTS (default 20,000, bounded for CI; the issue's
200,000 on demand); FONDO_CRASH_SEED replays a failure's kill plan.
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.csv_import import COLUMNS, import_donations
from ledger.gift import PENDING, Gift
from ledger.identity import DonorDetails
from ledger.payments import (
    CONFIRMED,
    DISPUTE_CLOSED,
    DISPUTE_OPENED,
    FAILED,
    REFUND_FAILED,
    PaymentNotice,
)
from projections.database import Database
from projections.store import LedgerStore, read_models
from tests.e2e.conftest import ROOT, run_ledger
from tests.helpers import COINS, COINS_TOTAL, erase, named, start_campaigns
from tests.synthetic import synthetic_row

EVENTS = int(os.environ.get("FONDO_CRASH_EVENTS", "20000"))
SEED = int(os.environ.get("FONDO_CRASH_SEED", "1409"))
KILLS = 20
AT_STARTUP = 3  # kills that land while the follower starts (opening the store, creating tables)
STALL = 120.0  # seconds without progress before the follower counts as stuck
CAMPAIGN = "fare-legami-anni-2-3"
AS_OF = "2030-01-01"
# Names as Stripe and volunteers send them: apostrophes, accents, separators, formulas (a tab
# or another control character is refused where names enter, so none reaches an export).
HOSTILE_NAMES = ("D'Angelo", "Nicolò Müller", 'Rossi; "Bianchi"', '=HYPERLINK("x")', "-Zoë @Ås")


@dataclass
class History:
    """What was recorded, and the figures it must give whatever order it is applied in."""

    raised_cents: int = 0
    donations: int = 0
    confirmed: int = 0
    movements: int = 0
    events: int = 0
    amounts: dict[str, int] = field(default_factory=dict)


def write_rows(path: Path, first: int, last: int, rng: random.Random, history: History) -> Path:
    """Synthetic rows `first`..`last - 1` in the foundation's spreadsheet style."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(";".join(COLUMNS) + "\r\n")
        for index in range(first, last):
            row = synthetic_row(index, rng, CAMPAIGN)
            cents = int(row["amount"].split(",")[0]) * 100
            history.amounts[f"csv:{row['reference']}"] = cents
            history.raised_cents += cents
            history.donations += 1
            history.confirmed += 1
            out.write(";".join(row.values()) + "\r\n")
    return path


def import_rows(store: LedgerStore, path: Path) -> None:
    report = import_donations(store.app, path)
    assert not report.errors and report.written, report.errors


def money_after_the_fact(store: LedgerStore, history: History, first: int, last: int) -> None:
    """Refunds, fees and corrections on some of the imported gifts, as the back office adds."""
    day = date(2018, 6, 1)
    for index in range(first, last):
        key = f"csv:SYN-{index:07d}"
        if index % 100 == 1:
            store.app.refund(key, f"re_{index}", 500, day, "richiesta del donatore")
            history.raised_cents -= 500
            history.movements += 1
        if index % 150 == 2:
            store.app.record_fee(key, 35 + index % 7, "stripe")
        if index % 200 == 3:
            store.app.correct_gift(
                key,
                history.amounts[key] + 1_000,
                day,
                "importo trascritto male",
                "staff@example.org",
            )
            history.raised_cents += 1_000


def registry_work(store: LedgerStore) -> None:
    """Merges, consent changes and erasures on donors the registry holds by now."""
    store.runner.catch_up()
    with store.database.reading() as session:
        donors = [
            row[0]
            for row in session.query(
                "SELECT donor_id FROM registry_donors ORDER BY first_position LIMIT 40"
            )
        ]
    assert len(donors) == 40
    for other, into in zip(donors[0:10:2], donors[1:10:2], strict=True):
        store.app.merge_donors(uuid.UUID(other), uuid.UUID(into), "staff@example.org")
    for number, donor in enumerate(donors[10:25]):
        store.app.change_consent(
            uuid.UUID(donor),
            True,
            number % 2 == 0,
            "modulo firmato",
            date(2017, 3, 1 + number),
            "staff@example.org",
        )
    for donor in donors[25:29]:
        assert erase(store, donor, force=True) >= 1
    store.app.record_audit("export", "staff@example.org", {"kind": "donors"}, 12)


def online_payments(store: LedgerStore, history: History, count: int) -> None:
    """SEPA gifts confirmed late or failed, a refund that bounced, disputes won and lost."""
    day = date(2017, 5, 2)
    for number in range(count):
        key = f"pi_crash{number:05d}"
        name = HOSTILE_NAMES[number % len(HOSTILE_NAMES)]
        cents = 1_500 + 100 * number
        gift = Gift(
            source_key=key,
            campaign=CAMPAIGN,
            amount_cents=cents,
            value_date=day,
            channel="online",
            method="sepa_debit",
            status=PENDING,
            details=DonorDetails.parse(
                first_name="Sepa", last_name=name, email=f"sepa{number}@example.org"
            ),
            privacy_consent=True,
            marketing_consent=number % 3 == 0,
        )
        kind = number % 5
        history.donations += 1
        if kind == 0:
            store.app.receive_payment(gift, PaymentNotice(FAILED, day, reason="insufficient"))
            continue
        store.app.receive_payment(gift, PaymentNotice(CONFIRMED, day))
        history.raised_cents += cents
        history.confirmed += 1
        if kind == 2:
            store.app.refund(key, f"re_{key}", 500, day)
            store.app.notify_payment(key, PaymentNotice(REFUND_FAILED, day, reference=f"re_{key}"))
        elif kind in (3, 4):
            outcome = "lost" if kind == 3 else "won"
            store.app.notify_payment(key, PaymentNotice(DISPUTE_OPENED, day, f"dp_{key}", cents))
            store.app.notify_payment(
                key, PaymentNotice(DISPUTE_CLOSED, day, f"dp_{key}", cents, outcome=outcome)
            )
            if outcome == "lost":
                history.raised_cents -= cents
                history.movements += 1


def a_stand(store: LedgerStore, history: History) -> None:
    """A piazza stand: taps, one undone, named givers, the two-person count, close, deposit."""
    stand = store.app.open_stand(
        CAMPAIGN, "Piazza del Comune", "Cremona", "Cremona", date(2017, 9, 10), ["Anna", "Bruno"]
    )
    taps = [str(uuid.uuid4()) for _ in range(31)]
    for tap in taps:
        store.app.tally_gift(stand, tap)
    store.app.undo_tally(stand, taps[0])
    for number, amount in enumerate((2_000, 5_000, 1_000)):
        store.app.log_named_gift(stand, named(f"piazza{number}@example.org", amount))
    store.app.count_cash(stand, "Anna", COINS)
    store.app.count_cash(stand, "Bruno", COINS)
    store.app.close_stand(stand)
    store.app.record_deposit("CRO-0001", COINS_TOTAL, date(2017, 9, 11), [stand])
    history.raised_cents += COINS_TOTAL
    history.donations += 4  # three named gifts and one tally of the other 30 people
    history.confirmed += 4


def build_history(url: str, tmp_path: Path, rng: random.Random) -> History:
    """EVENTS imported gifts and some 4% more events, with work for every read model among
    them; then the read models are dropped, so that the follower starts from nothing."""
    history = History()
    half = EVENTS // 2
    store = LedgerStore.open(url)
    try:
        start_campaigns(store)
        store.app.change_target(CAMPAIGN, 34_000_000)
        store.app.end_campaign("fare-legami-anno-1", date(2016, 5, 31))
        import_rows(store, write_rows(tmp_path / "first.csv", 0, half, rng, history))
        registry_work(store)
        money_after_the_fact(store, history, 0, half)
        online_payments(store, history, max(EVENTS // 200, 10))
        a_stand(store, history)
        import_rows(store, write_rows(tmp_path / "second.csv", half, EVENTS, rng, history))
        money_after_the_fact(store, history, half, EVENTS)
        history.events = store.app.recorder.max_notification_id() or 0
        with store.database.transaction() as session:
            for projection in store.runner.projections:
                projection.drop_tables(session)
            session.execute("DELETE FROM projection_positions")
    finally:
        store.close()
    return history


def applied(database: Database) -> int:
    """Events applied so far, summed over the read models (0 before their tables exist)."""
    try:
        with database.reading() as session:
            return int(session.scalar("SELECT SUM(position) FROM projection_positions", default=0))
    except (sqlite3.OperationalError, psycopg.errors.UndefinedTable):
        return 0


def start_follower(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "web.cli", "project", "--follow"],
            cwd=ROOT,
            # Batches small enough that the kills find many commits to land between.
            env={**os.environ, "LEDGER_PROJECTION_BATCH": str(max(EVENTS // 40, 50)), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass
class Pace:
    """How long the follower takes to start and to commit one batch, learnt as it runs, so
    that a random delay lands inside its work rather than after it whatever the machine."""

    startup: float = 1.0
    batch: float = 0.2
    measured: bool = False  # whether `batch` comes from a gap seen, not the guess above


def wait_for(
    database: Database,
    follower: subprocess.Popen[bytes],
    done: int,
    log: Path,
    context: str,
    pace: Pace,
) -> int:
    """Until `done` events are applied; the follower must stay alive and keep moving. The
    first time, also until one gap between two commits is seen: a target reached by the
    first commit after a start says nothing of how long a batch takes."""
    spawned = moved = time.monotonic()
    seen = first = applied(database)
    while seen < done or not pace.measured:
        if follower.poll() is not None:
            pytest.fail(
                f"{context}: the follower exited with {follower.returncode}:\n"
                f"{log.read_text(errors='replace')[-3000:]}"
            )
        if time.monotonic() - moved > STALL:
            pytest.fail(f"{context}: no progress for {STALL:.0f} s at {seen} of {done}")
        time.sleep(0.02)
        now = applied(database)
        if now != seen:
            if seen == first:
                pace.startup = min(pace.startup, time.monotonic() - spawned)
            elif pace.measured:
                pace.batch = (pace.batch + time.monotonic() - moved) / 2
            else:
                pace.batch, pace.measured = time.monotonic() - moved, True
            seen, moved = now, time.monotonic()
    return seen


def dump(database: Database, through: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every read model's rows; the audit trail up to `through` (exports add entries)."""
    tables = [table for projection in read_models() for table in projection.tables]
    with database.reading() as session:
        return {
            table: sorted(
                session.query(
                    f"SELECT * FROM {table}"
                    + (" WHERE position <= ?" if table == "audit_view" else ""),
                    (through,) if table == "audit_view" else (),
                ),
                key=repr,
            )
            for table in tables
        }


def what_the_foundation_sees(env: dict[str, str], tmp_path: Path, label: str) -> dict[str, bytes]:
    """Both CSV exports and the progress report, byte for byte, as the CLI writes them."""
    seen = {}
    for kind in ("donors", "donations"):
        out = tmp_path / f"{label}-{kind}.csv"
        run_ledger(env, "export", kind, "--out", str(out))
        seen[kind] = out.read_bytes()
    seen["progress"] = run_ledger(env, "report", "progress", "--json", "--as-of", AS_OF).encode()
    return seen


@pytest.mark.slow
@pytest.mark.timeout(600 + EVENTS // 20)  # a guard against a hang, not a speed limit
def test_follower_killed_at_random_points_while_catching_up_ends_as_a_fresh_rebuild(
    store_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    built = time.monotonic()
    history = build_history(store_url, tmp_path, rng)
    env = {"LEDGER_DATABASE_URL": store_url}
    database = Database(store_url)
    head = history.events
    assert head > EVENTS
    work = len(read_models()) * head  # each read model applies every event
    startup_rounds = {0, *rng.sample(range(1, KILLS), AT_STARTUP - 1)}
    targets = iter(sorted(rng.uniform(0.02, 0.9) * work for _ in range(KILLS - AT_STARTUP)))
    log = tmp_path / "follower.log"
    kills: list[str] = []
    replay = f"seed {SEED} (FONDO_CRASH_EVENTS={EVENTS} FONDO_CRASH_SEED={SEED} to replay)"
    pace = Pace()
    follower: subprocess.Popen[bytes] | None = None
    began = time.monotonic()
    try:
        for round_ in range(KILLS):
            before = applied(database)
            if before >= work:
                pytest.fail(
                    f"the catch-up ended before kill {round_ + 1}: FONDO_CRASH_EVENTS="
                    f"{EVENTS} is too few for {KILLS} kills\n" + "\n".join(kills)
                )
            follower = start_follower(env, log)
            if round_ in startup_rounds:
                # While it imports, opens the store, creates the tables or reads its first batch.
                delay = rng.uniform(0.0, pace.startup)
                how = f"{delay:.2f} s after start"
            else:
                # Somewhere inside the batch after the target: applying, or committing it.
                target = max(int(next(targets)), before + 1)
                wait_for(database, follower, target, log, f"kill {round_ + 1}, {replay}", pace)
                delay = rng.uniform(0.0, pace.batch)
                how = f"{delay:.2f} s after {target} applied"
            time.sleep(delay)
            assert follower.poll() is None, (
                f"the follower ended by itself; {replay}\n"
                + log.read_text(errors="replace")[-3000:]
            )
            follower.send_signal(signal.SIGKILL)
            follower.wait()
            kills.append(f"kill {round_ + 1}: {how}, {applied(database)} of {work} committed")
        assert applied(database) < work, (
            f"{replay}: the last kill came after the catch-up:\n" + "\n".join(kills)
        )

        started = time.monotonic()
        follower = start_follower(env, log)
        wait_for(database, follower, work, log, f"after the kills, {replay}", pace)
        finished = time.monotonic()
        follower.send_signal(signal.SIGTERM)
        follower.wait()
        follower = None
        followed = dump(database, head)
        seen_followed = what_the_foundation_sees(env, tmp_path, "followed")
        rebuilding = time.monotonic()
        run_ledger(env, "rebuild")
        # Figures for the report (shown with -s): where the time of this test goes.
        print(
            f"{head} events: built in {began - built:.0f} s, {KILLS} kills in "
            f"{started - began:.0f} s, catch-up finished in {finished - started:.0f} s, "
            f"rebuilt in {time.monotonic() - rebuilding:.0f} s",
            *kills,
            sep="\n",
        )
        rebuilt = dump(database, head)
        seen_rebuilt = what_the_foundation_sees(env, tmp_path, "rebuilt")
    finally:
        if follower is not None and follower.poll() is None:
            follower.kill()
            follower.wait()
        database.close()

    context = f"{replay}\n" + "\n".join(kills)
    for table, rows in rebuilt.items():
        same = followed[table] == rows
        extra = sorted(set(followed[table]) - set(rows), key=repr)[:3]
        missing = sorted(set(rows) - set(followed[table]), key=repr)[:3]
        assert same, (
            f"{table} differs from a rebuild: {len(followed[table])} rows against {len(rows)}; "
            f"only after the kills {extra}, only in the rebuild {missing}; {context}"
        )
    for name, data in seen_rebuilt.items():
        same = seen_followed[name] == data
        assert same, f"the {name} export differs; {context}"
    [figures] = [f for f in json.loads(seen_rebuilt["progress"]) if f["campaign"] == CAMPAIGN]
    assert figures["raised_cents"] == history.raised_cents
    assert len(rebuilt["gifts_view"]) == history.donations
    assert seen_rebuilt["donations"].count(b"\r\n") == history.confirmed + 1  # and the header
    assert len(rebuilt["money_movements"]) == history.movements
    assert len(rebuilt["registry_aliases"]) >= 5
    # five merges, fifteen consent changes, four erasures and one recorded export
    assert len(rebuilt["audit_view"]) == 5 + 15 + 4 + 1
    assert len(rebuilt["stands_view"]) == len(rebuilt["deposits_view"]) == 1
