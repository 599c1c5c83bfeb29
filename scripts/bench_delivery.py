"""How long a paid Stripe delivery takes to show in the public progress, under gunicorn with the
follower beside it as ./scripts/serve runs them (the e2e test checks that it shows, not when)."""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakestripe import StripeStory, sign  # noqa: E402 - needs ROOT on the path

POSTGRES_ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET = "whsec_bench"
SLUG = "fare-legami-anni-2-3"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def progress(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/api/v1/campaigns/{SLUG}/progress", timeout=10) as r:
        return dict(json.load(r))


def deliver(base: str, event: dict[str, Any]) -> None:
    payload = json.dumps(event).encode()
    request = urllib.request.Request(
        base + "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": sign(payload, SECRET), "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{base} did not become healthy")


def measure(url: str, gifts: int, workers: int) -> list[float]:
    """Seconds from the last delivery's acknowledgement to progress showing it, per gift."""
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": url,
        "LEDGER_SECRET_KEY": "bench",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }
    subprocess.run(
        [sys.executable, "-m", "web.cli", "init", "--demo"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "web:create_app()",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "web.cli", "project", "--follow"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    latencies = []
    try:
        wait_healthy(base)
        story = StripeStory()
        for index in range(gifts):
            before = progress(base)["raised_cents"]
            _session, events = story.card_gift(
                1000 + index, story.customer_details("Lia Neri", f"lia{index}@example.org")
            )
            for event in events:
                deliver(base, event)
            acknowledged = time.perf_counter()
            while progress(base)["raised_cents"] != before + 1000 + index:
                if time.perf_counter() - acknowledged > 60:
                    raise SystemExit("a paid delivery did not show within a minute")
                time.sleep(0.01)
            latencies.append(time.perf_counter() - acknowledged)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gifts", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"{'store':9} {'gifts':>5} {'median s':>9} {'p90 s':>7} {'max s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.stores.split(","):
            if kind == "sqlite":
                latencies = measure(f"sqlite:///{tmp}/ledger.sqlite3", args.gifts, args.workers)
            else:
                name = f"fondo_bench_{uuid.uuid4().hex[:10]}"
                with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{name}"')
                try:
                    latencies = measure(
                        POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", args.gifts, args.workers
                    )
                finally:
                    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            ordered = sorted(latencies)
            print(
                f"{kind:9} {len(ordered):>5} {statistics.median(ordered):>9.2f} "
                f"{ordered[int(0.9 * (len(ordered) - 1))]:>7.2f} {ordered[-1]:>7.2f}"
            )


if __name__ == "__main__":
    main()
