"""Delivery chaos through gunicorn: Stripe's deliveries three times each, shuffled, some cut off
mid-request, the inbox processor killed (SIGKILL) at random points and restarted, the server
killed (SIGKILL, workers and all) and restarted, the last deliveries after that → every
acknowledged delivery applied exactly once: the ledger of a clean in-order delivery.

FONDO_CHAOS_DELIVERIES sets how many distinct deliveries (events) the stories make; the default
keeps CI within its time limit (the report of issue 14 gives the run time for 10,000).
FONDO_CHAOS_SEED replays a run: every failure message starts with the seed.
"""

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from projections.store import LedgerStore
from tests.e2e.conftest import ROOT, _stop, _wait_until_healthy, free_port, run_ledger
from tests.fakestripe import sign
from tests.fakestripe.stories import (
    Deliveries,
    GiftStory,
    expected,
    expected_gifts,
    ledger_state,
    random_gift_story,
)
from web import create_app, store

DELIVERIES = int(os.environ.get("FONDO_CHAOS_DELIVERIES", "500"))
SEED = int(os.environ.get("FONDO_CHAOS_SEED", "20160901"))
COPIES = 3
CUT_SHARE = 0.05
AFTER_RESTART_SHARE = 0.01
CLIENTS = 6
PROCESSOR_KILLS = 6
DONORS = 400
SECRET = "whsec_e2e_chaos"
SLUG = "caos-consegne"
TAG = "chaos"
WAIT = "wait"


@dataclass(frozen=True)
class Attempt:
    """One copy of one delivery; `cut` says how the client breaks it off ("part": headers and
    half the body, "whole": the whole request), None for a delivery that waits for its answer."""

    event: int
    cut: str | None = None


@dataclass
class Dispatcher:
    """Hands attempts to the client threads as Stripe schedules them: every copy is resent
    until it is acknowledged with a 2xx; the copies after `restart_at` wait for the restart."""

    fresh: deque[Attempt]
    restart_at: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    retries: deque[tuple[float, Attempt]] = field(default_factory=deque)
    dispatched: int = 0
    unacknowledged: int = 0
    restart_due: threading.Event = field(default_factory=threading.Event)
    restarted: threading.Event = field(default_factory=threading.Event)
    statuses: dict[int, int] = field(default_factory=dict)
    acknowledged_after_restart: int = 0
    unexpected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.unacknowledged = len(self.fresh)

    def take(self) -> Attempt | str | None:
        """The next attempt, WAIT when none is due yet, None when every copy is acknowledged."""
        with self.lock:
            if self.unacknowledged == 0:
                return None
            if self.retries and self.retries[0][0] <= time.monotonic():
                return Attempt(self.retries.popleft()[1].event)
            if self.fresh and (self.dispatched < self.restart_at or self.restarted.is_set()):
                self.dispatched += 1
                return self.fresh.popleft()
            if self.fresh:
                self.restart_due.set()
            return WAIT

    def answered(self, attempt: Attempt, status: int, after_restart: bool) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                self.unacknowledged -= 1
                self.acknowledged_after_restart += after_restart
            else:
                # Stripe retries with a growing delay; a short one keeps the test quick.
                self.retries.append((time.monotonic() + 0.05, attempt))


def signed_headers(payload: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "Stripe-Signature": sign(payload, SECRET)}


def deliver(port: int, payload: bytes) -> tuple[int, Any]:
    """One delivery waiting for its answer: (status, JSON body), or (0, None) with no answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST", "/webhooks/stripe", body=payload, headers=signed_headers(payload)
        )
        response = connection.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, body[:200]
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        connection.close()


def cut_off(port: int, payload: bytes, how: str) -> None:
    """A delivery the client breaks off: it closes the socket before reading any answer."""
    head = "".join(
        f"{name}: {value}\r\n"
        for name, value in {
            "Host": f"127.0.0.1:{port}",
            "Content-Length": str(len(payload)),
            "Connection": "close",
            **signed_headers(payload),
        }.items()
    )
    request = f"POST /webhooks/stripe HTTP/1.1\r\n{head}\r\n".encode() + (
        payload if how == "whole" else payload[: len(payload) // 2]
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(request)
    except OSError:
        pass  # the server is restarting: this copy is resent like any other


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[[dict[str, str], int], subprocess.Popen[bytes]]]:
    """`start(env, port)` runs gunicorn on that port (so a restart can take it again)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
        log = tmp_path / f"gunicorn-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "web:create_app()",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--timeout",
                    "60",
                ],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers with it: killed as one group
            )
        started.append(process)
        _wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        return process

    yield start
    for process in started:
        _stop(process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to a process and everything in its session (gunicorn's workers): no goodbye."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def start_processor(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "web.cli", "inbox", "--follow"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def wait_for_the_inbox(url: str, processor: subprocess.Popen[bytes], log: Path) -> None:
    """Until the processor has applied every delivery kept (a bound on a broken processor, not
    a speed check)."""
    ledger = LedgerStore.open(url)
    try:
        deadline = time.monotonic() + 600
        while (state := ledger.inbox.state()).pending and time.monotonic() < deadline:
            assert processor.poll() is None, log.read_text()
            time.sleep(0.2)
        assert state.pending == 0, (SEED, state, log.read_text())
        assert state.failed == 0, (SEED, ledger.inbox.failures())
    finally:
        ledger.close()


def stories_for(deliveries: int, rng: random.Random) -> tuple[list[GiftStory], Deliveries]:
    """Gift stories drawn until Stripe would make at least `deliveries` deliveries."""
    stories, made = [], Deliveries(TAG, SLUG)
    while len(made.events) < deliveries:
        stories.append(random_gift_story(rng, DONORS))
        made.gift(stories[-1])
    return stories, made


def clean_in_order(url: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The reference: each delivery once, in Stripe's order, into a database of its own."""
    app: Flask = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": url,
            "STRIPE_SECRET_KEY": "sk_test",
            "STRIPE_WEBHOOK_SECRET": SECRET,
        }
    )
    try:
        client = app.test_client()
        with app.app_context():
            store().app.start_campaign(SLUG, "Caos nelle consegne", 33_600_000)
        for event in events:
            payload = json.dumps(event).encode()
            answer = client.post("/webhooks/stripe", data=payload, headers=signed_headers(payload))
            assert answer.status_code == 200, (SEED, event["type"], answer.get_json())
        with app.app_context():
            return ledger_state(store(), SLUG, TAG)
    finally:
        app.extensions["ledger_store"].close()


@pytest.mark.slow
@pytest.mark.timeout(max(300, DELIVERIES // 2))
def test_chaotic_delivery_through_gunicorn_gives_the_clean_in_order_ledger(
    store_url: str,
    tmp_path: Path,
    gunicorn: Callable[[dict[str, str], int], subprocess.Popen[bytes]],
    follower: Callable[[dict[str, str]], None],
) -> None:
    rng = random.Random(SEED)
    stories, made = stories_for(DELIVERIES, rng)
    plan = [index for index in range(len(made.events)) for _copy in range(COPIES)]
    rng.shuffle(plan)
    cut = set(rng.sample(range(len(plan)), round(len(plan) * CUT_SHARE)))
    attempts = deque(
        Attempt(event, rng.choice(("part", "whole")) if number in cut else None)
        for number, event in enumerate(plan)
    )
    late = max(1, round(len(plan) * AFTER_RESTART_SHARE))
    dispatcher = Dispatcher(attempts, restart_at=len(plan) - late)
    payloads = [json.dumps(event).encode() for event in made.events]

    env = {
        "LEDGER_DATABASE_URL": store_url,
        "LEDGER_SECRET_KEY": "e2e",
        "STRIPE_SECRET_KEY": "sk_test_e2e",
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }
    run_ledger(env, "init")
    run_ledger(env, "campaigns", "add", SLUG, "--name", "Caos nelle consegne", "--target", "336000")
    port = free_port()
    server = gunicorn(env, port)
    follower(env)
    processor_log = tmp_path / "inbox.log"
    processors = [start_processor(env, processor_log)]
    started = time.monotonic()
    chaos_over = threading.Event()
    pauses = [rng.uniform(0.2, 2.0) for _ in range(PROCESSOR_KILLS)]

    def kill_the_processor() -> None:
        """SIGKILL at random moments while it applies deliveries, restarted each time."""
        for pause in pauses:
            if chaos_over.wait(pause):
                return
            processors[-1].send_signal(signal.SIGKILL)
            processors[-1].wait(timeout=60)
            processors.append(start_processor(env, processor_log))

    def client() -> None:
        while (attempt := dispatcher.take()) is not None:
            if attempt == WAIT:
                time.sleep(0.02)
                continue
            assert isinstance(attempt, Attempt)
            after_restart = dispatcher.restarted.is_set()
            if attempt.cut:
                cut_off(port, payloads[attempt.event], attempt.cut)
                dispatcher.answered(attempt, 0, after_restart)
                continue
            status, body = deliver(port, payloads[attempt.event])
            if status not in (0, 503) and not (
                status == 200
                and isinstance(body, dict)
                and body.get("outcome") in ("queued", "duplicate", "ignored")
            ):
                with dispatcher.lock:
                    dispatcher.unexpected.append(
                        f"{made.events[attempt.event]['type']}: {status} {body}"
                    )
            dispatcher.answered(attempt, status, after_restart)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    killer = threading.Thread(target=kill_the_processor)
    for thread in [*threads, killer]:
        thread.start()
    try:
        # The server killed, while copies that were refused or cut are still being resent.
        assert dispatcher.restart_due.wait(timeout=3600)
        kill_group(server)
        gunicorn(env, port)
        dispatcher.restarted.set()
        for thread in threads:
            thread.join()
    finally:
        chaos_over.set()
        killer.join()
    chaos_seconds = time.monotonic() - started
    try:
        wait_for_the_inbox(store_url, processors[-1], processor_log)
    finally:
        _stop(processors[-1])

    sent = sum(dispatcher.statuses.values())
    summary = (
        f"seed {SEED}: {len(stories)} stories, {len(made.events)} deliveries, "
        f"{len(plan)} copies, {len(cut)} cut off, {late} held for after the restart, "
        f"{sent} requests in {chaos_seconds:.0f} s, statuses {dispatcher.statuses}, "
        f"{dispatcher.acknowledged_after_restart} acknowledged after the restart, "
        f"{len(processors) - 1} processor kills"
    )
    print(summary)
    assert dispatcher.unexpected == [], (summary, dispatcher.unexpected[:10])
    assert dispatcher.acknowledged_after_restart >= late, summary

    chaotic = LedgerStore.open(store_url)
    try:
        seen = ledger_state(chaotic, SLUG, TAG)
    finally:
        chaotic.close()
    reference = clean_in_order(f"sqlite:///{tmp_path / 'clean.sqlite3'}", made.events)
    source_keys = [row[0] for row in seen["gifts"]]
    assert len(source_keys) == len(set(source_keys)), summary  # every payment once
    assert len(seen["gifts"]) == len(expected_gifts(stories)), summary
    assert seen["figures"] == reference["figures"] == expected(stories), summary
    assert seen["movements"] == reference["movements"], summary
    assert seen["gifts"] == reference["gifts"], summary
