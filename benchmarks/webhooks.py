"""Stripe webhook ingestion through gunicorn on PostgreSQL: Fondo (signature, checks, one insert
into the inbox, with the inbox processor and the follower running beside it) against a bare
Flask endpoint doing one INSERT per request, same gunicorn settings, same clients, same
signed `checkout.session.completed` payloads (distinct ids). Under that load, how long a paid
delivery takes from its acknowledgement to the public progress API showing it."""

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from benchmarks.bare_insert import TABLE
from benchmarks.common import ROOT, Result, postgres_database

CLIENTS = 8
WORKERS = 2
SECRET = "whsec_bench"
CAMPAIGN = "fare-legami-oggi"
PROBES = "sonda"
GUNICORN = ["--workers", str(WORKERS), "--timeout", "60"]
LEDGER = [sys.executable, "-m", "web.cli"]


def _payloads(count: int, campaign: str, story: Any) -> list[tuple[bytes, int]]:
    """Paid Checkout Sessions of Stripe's shape, one per gift: (body, amount in cents)."""
    story.campaign = campaign
    made = []
    for index in range(count):
        amount = 1000 + index % 5000
        _session, (_intent, completed) = story.card_gift(
            amount, story.customer_details(f"Donatore N{index}", f"d{index}@example.org")
        )
        made.append((json.dumps(completed).encode(), amount))
    return made


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _post(port: int, body: bytes, signature: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            "/webhooks/stripe",
            body=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _client(
    port: int, bodies: list[bytes], go: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    from tests.fakestripe import sign

    signed = [(body, sign(body, SECRET)) for body in bodies]
    latencies, failures = [], 0
    go.wait()
    for body, signature in signed:
        began = time.perf_counter()
        if _post(port, body, signature) != 200:
            failures += 1
        latencies.append(time.perf_counter() - began)
    results.put((latencies, failures, time.perf_counter()))


def _load(port: int, bodies: Sequence[bytes]) -> dict[str, Any]:
    """CLIENTS processes sending their share of `bodies` one after another: req/s and p99."""
    context = multiprocessing.get_context("fork")
    go, results = context.Event(), context.Queue()
    shares = [list(bodies[i::CLIENTS]) for i in range(CLIENTS)]
    children = [
        context.Process(target=_client, args=(port, share, go, results)) for share in shares
    ]
    for child in children:
        child.start()
    time.sleep(1.0)  # every client has signed its payloads and waits
    began = time.perf_counter()
    go.set()
    latencies: list[float] = []
    failures, finished = 0, began
    for _child in children:
        some, failed, ended = results.get()
        latencies += some
        failures += failed
        finished = max(finished, ended)
    for child in children:
        child.join()
    latencies.sort()
    seconds = finished - began
    return {
        "requests": len(latencies),
        "failures": failures,
        "seconds": round(seconds, 3),
        "per_second": len(latencies) / seconds,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


@contextmanager
def _processes(commands: list[list[str]], env: dict[str, str]) -> Iterator[None]:
    started = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for command in commands
    ]
    try:
        yield
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(port: int, path: str, method: str = "GET") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request(method, path, body=b"{}" if method == "POST" else None)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered on port {port} within a minute")


def _gunicorn(app: str, port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", *GUNICORN]


def measure_baseline(bodies: Sequence[bytes]) -> dict[str, Any]:
    with postgres_database() as url:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(TABLE)
        port = _free_port()
        with _processes(
            [_gunicorn("benchmarks.bare_insert:create_app()", port)], {"BARE_DATABASE_URL": url}
        ):
            _wait_for(port, "/webhooks/stripe", "POST")
            return _load(port, bodies)


def _raised(port: int, slug: str) -> int:
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/api/v1/campaigns/{slug}/progress", timeout=10
    ) as answer:
        return int(json.load(answer)["raised_cents"])


def _wait_for_campaigns(port: int, slugs: Sequence[str]) -> None:
    """Until the follower has projected the campaigns: before that the progress API answers
    404, which would stop the probe."""
    deadline = time.monotonic() + 60
    for slug in slugs:
        while True:
            try:
                _raised(port, slug)
                break
            except urllib.error.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def _probe(
    port: int,
    reader: int,
    url: str,
    probes: list[tuple[bytes, int]],
    stop: threading.Event,
    seen: list[tuple[float, float]],
) -> None:
    """One paid delivery at a time, to the loaded server, for a campaign of its own: seconds
    from its 200 to the progress API counting it. The progress is read from a web server of
    its own (the same database, as a second host would), so that the polling takes no time
    from the workers whose requests per second are measured."""
    from tests.fakestripe import sign

    expected = 0
    with psycopg.connect(url, autocommit=True) as database:
        for body, amount in probes:
            if stop.is_set():
                return
            assert _post(port, body, sign(body, SECRET)) == 200
            acknowledged = time.perf_counter()
            expected += amount
            applied = None  # when the processor marked it applied: where the time went
            while _raised(reader, PROBES) < expected:
                if (
                    applied is None
                    and database.execute(
                        "SELECT 1 FROM stripe_inbox WHERE event_id = %s AND status = 'applied'",
                        (json.loads(body)["id"],),
                    ).fetchone()
                ):
                    applied = time.perf_counter() - acknowledged
                time.sleep(0.05)
            shown = time.perf_counter() - acknowledged
            seen.append((shown, shown if applied is None else applied))
            time.sleep(0.2)


def _fondo_env(url: str) -> dict[str, str]:
    """A new ledger in `url` with the two campaigns the deliveries name: its environment."""
    env = {
        "LEDGER_DATABASE_URL": url,
        "LEDGER_SECRET_KEY": "bench",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }
    for args in (
        ["init"],
        ["campaigns", "add", CAMPAIGN, "--name", "Fare Legami oggi", "--target", "10000000"],
        ["campaigns", "add", PROBES, "--name", "Sonda", "--target", "1000"],
    ):
        subprocess.run(
            [*LEDGER, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
    return env


def measure_ingestion_only(bodies: Sequence[bytes]) -> dict[str, Any]:
    """Fondo's gunicorn alone, with no inbox processor, follower or probe beside it: what the
    webhook path itself costs against the bare insert (shown beside the measured figure)."""
    with postgres_database() as url:
        env = _fondo_env(url)
        port = _free_port()
        with _processes([_gunicorn("web:create_app()", port)], env):
            _wait_for(port, "/healthz")
            figures = _load(port, bodies)
        with psycopg.connect(url) as connection:
            kept = connection.execute("SELECT COUNT(*) FROM stripe_inbox").fetchone()
        if kept is None or kept[0] != len(bodies):
            raise SystemExit("the inbox does not hold every delivery acknowledged")
        return figures


def measure_fondo(
    bodies: Sequence[bytes], total_cents: int, probes: list[tuple[bytes, int]]
) -> dict[str, Any]:
    with postgres_database() as url:
        env = _fondo_env(url)
        ledger = LEDGER
        port, reader = _free_port(), _free_port()
        with _processes(
            [
                _gunicorn("web:create_app()", port),
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "web:create_app()",
                    "--bind",
                    f"127.0.0.1:{reader}",
                    "--workers",
                    "1",
                ],
                [*ledger, "project", "--follow"],
                [*ledger, "inbox", "--follow"],
            ],
            env,
        ):
            _wait_for(port, "/healthz")
            _wait_for(reader, "/healthz")
            _wait_for_campaigns(reader, (CAMPAIGN, PROBES))
            stop, seen = threading.Event(), []
            prober = threading.Thread(target=_probe, args=(port, reader, url, probes, stop, seen))
            prober.start()
            figures = _load(port, bodies)
            stop.set()
            prober.join()
            began = time.perf_counter()
            while _raised(port, CAMPAIGN) < total_cents:
                if time.perf_counter() - began > 600:
                    raise SystemExit("the deliveries were not all applied within 10 minutes")
                time.sleep(0.1)
            figures["applied_all_after_load_s"] = round(time.perf_counter() - began, 2)
            if _raised(port, CAMPAIGN) != total_cents:
                raise SystemExit("the progress API counts other than what was delivered")
        figures["probes"] = len(seen)
        for name, values in (
            ("progress", sorted(shown for shown, _ in seen)),
            ("inbox_applied", sorted(applied for _, applied in seen)),
        ):
            figures[f"{name}_p50_s"] = values[len(values) // 2] if values else None
            figures[f"{name}_p99_s"] = values[int(0.99 * (len(values) - 1))] if values else None
        return figures


def run(options: argparse.Namespace) -> list[Result]:
    sys.path.insert(0, str(ROOT))
    from tests.fakestripe import StripeStory

    count = 2_000 if options.quick else 16_000
    story = StripeStory()
    load = _payloads(count, CAMPAIGN, story)
    probes = _payloads(2_000, PROBES, story)
    bodies = [body for body, _ in load]
    baseline = measure_baseline(bodies)
    fondo = measure_fondo(bodies, sum(amount for _, amount in load), probes)
    alone = measure_ingestion_only(bodies)
    alone["ratio_to_baseline"] = round(alone["per_second"] / baseline["per_second"], 2)
    details = {
        "fondo": fondo,
        "baseline": baseline,
        "fondo_ingestion_alone": alone,
        "clients": CLIENTS,
        "workers": WORKERS,
    }
    shown = fondo["progress_p99_s"] if fondo["progress_p99_s"] is not None else float("inf")
    return [
        Result(
            what=(
                f"signed checkout.session.completed through gunicorn ({WORKERS} workers, "
                f"inbox processor and follower running, {CLIENTS} clients), p99 "
                f"{fondo['p99_ms']:.0f} ms vs {baseline['p99_ms']:.0f} ms"
            ),
            figure=fondo["per_second"],
            unit="req/s",
            baseline="bare Flask endpoint, one INSERT per request, same gunicorn",
            baseline_figure=baseline["per_second"],
            ratio=fondo["per_second"] / baseline["per_second"],
            at_least=1.0,
            details=details,
        ),
        Result(
            what="a paid delivery's acknowledgement → the progress API showing it, p99 under load",
            figure=shown,
            unit="s",
            baseline="—",
            baseline_figure=None,
            ratio=shown,
            at_most=2.0,
            details={
                "probes": fondo["probes"],
                "p50_s": fondo["progress_p50_s"],
                "inbox_applied_p50_s": fondo["inbox_applied_p50_s"],
                "inbox_applied_p99_s": fondo["inbox_applied_p99_s"],
            },
        ),
    ]
