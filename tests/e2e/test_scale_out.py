"""Running it on more machines: two gunicorn servers, two followers and two inbox processors on
one PostgreSQL database (README, "Running it on more machines"). Stripe's deliveries go to
either server, each twice, shuffled, while both are read; in the end both servers show the
figures of the independent model, every payment once, and no event applied twice.

FONDO_SCALE_DELIVERIES sets how many distinct deliveries the stories make.
"""

import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from projections.store import LedgerStore
from tests.e2e.conftest import run_ledger
from tests.fakestripe import sign
from tests.fakestripe.stories import (
    Deliveries,
    GiftStory,
    expected,
    expected_gifts,
    ledger_state,
    random_gift_story,
)
from web.stripe_shapes import SHAPES

DELIVERIES = int(os.environ.get("FONDO_SCALE_DELIVERIES", "300"))
SEED = int(os.environ.get("FONDO_SCALE_SEED", "20151120"))
SECRET = "whsec_e2e_scale"
SLUG = "due-server"
TAG = "scale"
CLIENTS = 6


def deliver(base: str, payload: bytes) -> int:
    request = urllib.request.Request(
        base + "/webhooks/stripe",
        data=payload,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, SECRET)},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def progress(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/api/v1/campaigns/{SLUG}/progress", timeout=60) as r:
        return dict(json.load(r))


def serves(base: str) -> bool:
    """Whether the server answers the campaign's progress yet."""
    try:
        return progress(base)["campaign"] == SLUG
    except urllib.error.HTTPError:
        return False


def health(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/healthz", timeout=60) as response:
        return dict(json.load(response))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_two_servers_two_followers_and_two_processors_give_the_model_figures(
    postgres_url: str,
    live_server: Callable[..., str],
) -> None:
    rng = random.Random(SEED)
    stories: list[GiftStory] = []
    made = Deliveries(TAG, SLUG)
    while len(made.events) < DELIVERIES:
        stories.append(random_gift_story(rng, 200))
        made.gift(stories[-1])
    payloads = [json.dumps(event).encode() for event in made.events]
    # Each delivery twice: its first copy to one server, its second to the other.
    plan = [(index, copy) for index in range(len(payloads)) for copy in range(2)]
    rng.shuffle(plan)

    env = {
        "LEDGER_DATABASE_URL": postgres_url,
        "LEDGER_SECRET_KEY": "e2e",
        "STRIPE_SECRET_KEY": "sk_test_e2e",
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }
    run_ledger(env, "init")
    run_ledger(env, "campaigns", "add", SLUG, "--name", "Due server", "--target", "336000")
    # Each start is a web server with its own follower and inbox processor beside it.
    servers = [live_server(env, workers=2), live_server(env, workers=2)]
    # Until the followers have applied the campaign, its progress is a 404: the load begins
    # once both servers serve it.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(serves(base) for base in servers):
        time.sleep(0.1)

    lock = threading.Lock()
    pending = list(plan)
    refused: list[tuple[str, int]] = []
    reads: list[int] = []
    sending = threading.Event()
    sending.set()

    def send() -> None:
        while True:
            with lock:
                if not pending:
                    return
                index, copy = pending.pop()
            base = servers[(index + copy) % 2]
            for _attempt in range(50):
                status = deliver(base, payloads[index])
                if status == 200:
                    break
                with lock:
                    refused.append((made.events[index]["type"], status))
                time.sleep(0.05)
            else:
                pytest.fail(f"{made.events[index]['id']} never acknowledged")

    problems: list[str] = []

    def browse() -> None:
        while sending.is_set():
            for base in servers:
                try:
                    figures = progress(base)
                    reads.append(200 if figures["campaign"] == SLUG else 0)
                except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                    reads.append(0)
                    problems.append(repr(error))

    senders = [threading.Thread(target=send) for _ in range(CLIENTS)]
    readers = [threading.Thread(target=browse) for _ in range(2)]
    for thread in [*senders, *readers]:
        thread.start()
    for thread in senders:
        thread.join()
    sending.clear()
    for thread in readers:
        thread.join()
    assert all(status in (0, 503) for _kind, status in refused), refused[:10]
    assert reads and all(status == 200 for status in reads), problems[:3]

    # The two processors apply the inbox and the two followers catch up, alone.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        states = [health(base) for base in servers]
        if all(
            state["inbox"]["pending"] == 0
            and all(model["behind"] == 0 for model in state["read_models"])
            for state in states
        ):
            break
        time.sleep(0.2)
    assert all(state["status"] == "ok" for state in states), states
    assert all(state["inbox"]["failed"] == 0 for state in states), states
    assert all(state["inbox"]["pending"] == 0 for state in states), states

    want = expected(stories)
    for base in servers:
        figures = progress(base)
        assert {key: figures[key] for key in want} == want, (SEED, base)

    ledger = LedgerStore.open(postgres_url)
    try:
        seen = ledger_state(ledger, SLUG, TAG)
        with ledger.database.reading() as session:
            kept = session.scalar("SELECT COUNT(*) FROM stripe_inbox")
            applied = session.scalar("SELECT COUNT(*) FROM stripe_inbox WHERE status = 'applied'")
            head = ledger.app.recorder.max_notification_id()
            positions = dict(session.query("SELECT name, position FROM projection_positions"))
    finally:
        ledger.close()
    source_keys = [row[0] for row in seen["gifts"]]
    assert len(source_keys) == len(set(source_keys))  # every payment once
    assert sorted((row[1], row[2], int(row[3]), int(row[4])) for row in seen["gifts"]) == (
        expected_gifts(stories)
    )
    assert seen["figures"] == want
    # Each delivery kept once whichever server took it; each read model at the head, once.
    handled = {event["id"] for event in made.events if event["type"] in SHAPES}
    assert kept == applied == len(handled)
    assert set(positions.values()) == {head}, positions
