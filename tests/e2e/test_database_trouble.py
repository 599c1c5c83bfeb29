"""Database trouble under load: PostgreSQL backends terminated mid-load, through gunicorn.

The machine's PostgreSQL server is shared with other test runs, so the server is not restarted
here: a restart looks the same to every client connection as `pg_terminate_backend` of all of
them (the socket is closed under it), which is what these rounds do, several times mid-load.
"""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projections.store import LedgerStore
from tests.e2e.conftest import ROOT, _stop, run_ledger
from tests.fakestripe import StripeStory, sign
from tests.helpers import create_database, database_url, drop_database

SECRET = "whsec_e2e_faults"
SLUG = "fare-legami-anni-2-3"
CLIENTS = 4
GIFTS_UNDER_FAULTS = 240
GIFTS_AFTER = 60
ROUNDS = 4
Follower = subprocess.Popen[bytes]


def terminate_backends(url: str) -> int:
    """Cut every other connection to the test database, as a crashing server would."""
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def deliver(base: str, event: dict[str, Any]) -> int:
    """One delivery as Stripe makes it; the status code, or 0 when no answer came."""
    payload = json.dumps(event).encode()
    request = urllib.request.Request(
        base + "/webhooks/stripe",
        data=payload,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, SECRET)},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def read(base: str, path: str) -> int:
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


class Sender:
    """Delivers gifts as Stripe does: an unacknowledged delivery is sent again until a 2xx."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.lock = threading.Lock()
        self.acknowledged: dict[str, int] = {}
        self.statuses: list[int] = []

    def send_gift(self, intent: str, amount: int, events: list[dict[str, Any]]) -> None:
        for event in events:
            for _attempt in range(100):
                status = deliver(self.base, event)
                with self.lock:
                    self.statuses.append(status)
                if 200 <= status < 300:
                    break
                assert status in (0, 503), f"{status} for {event['type']}"
            else:
                pytest.fail(f"{event['id']} never acknowledged")
        with self.lock:
            self.acknowledged[intent] = amount


def gifts(story: StripeStory, count: int) -> list[tuple[str, int, list[dict[str, Any]]]]:
    made = []
    for number in range(count):
        amount = 500 + 37 * number
        session, events = story.card_gift(
            amount, story.customer_details(f"Donatore {number}", f"donatore{number}@example.org")
        )
        made.append((session["payment_intent"], amount, events))
    return made


@pytest.fixture
def follower_with_log(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Follower]]:
    """`ledger project --follow` with its stderr kept, to show why it stopped if it does."""
    started: list[subprocess.Popen[bytes]] = []

    def follow(env: dict[str, str]) -> Follower:
        with (tmp_path / "follower.log").open("wb") as log:
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "web.cli", "project", "--follow"],
                    cwd=ROOT,
                    env={**os.environ, **env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return started[-1]

    yield follow
    for process in started:
        _stop(process)


@pytest.mark.slow
@pytest.mark.postgres
def test_service_recovers_by_itself_after_backends_are_terminated_mid_load(
    postgres_url: str,
    live_server: Callable[..., str],
    tmp_path: Path,
    follower_with_log: Callable[[dict[str, str]], Follower],
) -> None:
    env = {
        "LEDGER_DATABASE_URL": postgres_url,
        "LEDGER_SECRET_KEY": "e2e",
        "STRIPE_SECRET_KEY": "sk_test_e2e",
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }
    run_ledger(env, "init", "--demo")
    base = live_server(env, workers=2)
    follower = follower_with_log(env)
    story = StripeStory()
    under_faults = gifts(story, GIFTS_UNDER_FAULTS)
    sender = Sender(base)
    reader_statuses: list[int] = []
    done = threading.Event()

    def send(share: list[tuple[str, int, list[dict[str, Any]]]]) -> None:
        for intent, amount, events in share:
            sender.send_gift(intent, amount, events)

    def browse() -> None:
        while not done.is_set():
            for path in ("/", f"/api/v1/campaigns/{SLUG}/progress", "/healthz"):
                reader_statuses.append(read(base, path))

    threads = [
        threading.Thread(target=send, args=(under_faults[i::CLIENTS],)) for i in range(CLIENTS)
    ] + [threading.Thread(target=browse)]
    for thread in threads:
        thread.start()
    terminated = []
    for round_number in range(1, ROUNDS + 1):
        # Each round when a further fifth of the gifts is acknowledged: mid-load, whatever speed.
        while len(sender.acknowledged) < GIFTS_UNDER_FAULTS * round_number // (ROUNDS + 1):
            threading.Event().wait(0.05)
        terminated.append(terminate_backends(postgres_url))
    for thread in threads[:CLIENTS]:
        thread.join()
    done.set()
    threads[-1].join()
    # One more round while everything is idle: every pooled and per-thread connection is cut.
    terminated.append(terminate_backends(postgres_url))
    assert all(count > 0 for count in terminated), terminated

    # The faults are over: from now on every request succeeds at its first attempt.
    after = gifts(story, GIFTS_AFTER)
    for intent, amount, events in after:
        statuses = [deliver(base, event) for event in events]
        assert statuses == [200] * len(events), (intent, statuses)
        sender.acknowledged[intent] = amount
        for path in ("/", f"/api/v1/campaigns/{SLUG}/progress", "/healthz"):
            assert read(base, path) == 200, path

    # The follower survived the rounds: it alone brings the public figures up to date.
    assert follower.poll() is None, (tmp_path / "follower.log").read_text()
    expected_raised = sum(sender.acknowledged.values())
    for _poll in range(600):
        with urllib.request.urlopen(f"{base}/api/v1/campaigns/{SLUG}/progress") as response:
            raised = json.load(response)["raised_cents"]
        if raised == expected_raised:
            break
        threading.Event().wait(0.1)
    assert raised == expected_raised

    # Nothing acknowledged is lost, nothing is counted twice.
    ledger = LedgerStore.open(postgres_url)
    try:
        ledger.runner.catch_up()
        with ledger.database.reading() as session:
            recorded = dict(
                session.query(
                    "SELECT source_key, amount_cents FROM gifts_view WHERE source_key LIKE ?",
                    ("stripe:%",),
                )
            )
    finally:
        ledger.close()
    expected = {f"stripe:{intent}": amount for intent, amount in sender.acknowledged.items()}
    assert len(expected) == GIFTS_UNDER_FAULTS + GIFTS_AFTER
    assert recorded == expected
    assert sum(recorded.values()) == sum(expected.values())
    print(
        f"terminated per round: {terminated}; deliveries under faults: "
        f"{len(sender.statuses)}, refused or unanswered: "
        f"{sum(1 for s in sender.statuses if not 200 <= s < 300)}; page reads: "
        f"{len(reader_statuses)}, failed: {sum(1 for s in reader_statuses if s != 200)}"
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_a_follower_started_while_its_database_is_unavailable_waits_for_it(
    postgres_server: str, postgres_template: str, tmp_path: Path
) -> None:
    """A restart or a cut connection just as `ledger project --follow` starts: it waits for
    the database and goes on (it used to exit 3, leaving the read models behind for good)."""
    name = f"fondo_test_{uuid.uuid4().hex[:12]}"
    env = {"LEDGER_DATABASE_URL": database_url(postgres_server, name), "LEDGER_SECRET_KEY": "e2e"}
    log = tmp_path / "follower.log"
    with log.open("wb") as out:
        follower = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "project", "--follow"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "retrying" not in log.read_text() and time.monotonic() < deadline:
            assert follower.poll() is None, log.read_text()
            time.sleep(0.1)
        assert "database unavailable, retrying" in log.read_text()
        create_database(postgres_server, name, template=postgres_template)  # it is back
        run_ledger(env, "campaigns", "add", SLUG, "--name", "Dopo", "--target", "1000")
        ledger = LedgerStore.open(env["LEDGER_DATABASE_URL"], create_tables=False)
        try:
            deadline = time.monotonic() + 60
            while ledger.runner.lag() and time.monotonic() < deadline:
                assert follower.poll() is None, log.read_text()
                time.sleep(0.1)
            assert ledger.app.recorder.max_notification_id(), "no event recorded"
            assert ledger.runner.lag() == 0, log.read_text()
        finally:
            ledger.close()
    finally:
        _stop(follower)  # nothing if it has exited
        drop_database(postgres_server, name)  # IF EXISTS: nothing if never created
