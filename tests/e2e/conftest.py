"""End-to-end fixtures: gunicorn on a free port, follower processes, and Debian's Chromium."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def run_ledger(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run the `ledger` command as a person would, against the store named in `env`."""
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        input=stdin,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90  # a bound on a broken server, not a speed check
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer /healthz within 90 s:\n{log.read_text()}")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """`start(env, workers=2)` runs gunicorn 'web:create_app()' and, beside it, `ledger
    project --follow` and `ledger inbox --follow` (pages read what the follower applied, and
    webhooks are applied by the inbox processor, as with scripts/serve); returns the base
    URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], workers: int = 2) -> str:
        port = free_port()
        log = tmp_path / f"gunicorn-{port}.log"
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
                    str(workers),
                    "--timeout",
                    "60",
                ],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(url, process, log)
        for name, command in (("follower", "project"), ("inbox", "inbox")):
            with (tmp_path / f"{name}-{port}.log").open("wb") as out:
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "web.cli", command, "--follow"],
                        cwd=ROOT,
                        env={**os.environ, **env},
                        stdout=subprocess.DEVNULL,
                        stderr=out,
                    )
                )
        return url

    yield start
    for process in started:
        _stop(process)


@pytest.fixture
def demo_site(
    sqlite_url: str, live_server: Callable[..., str]
) -> Callable[[str, str, str], tuple[str, dict[str, str]]]:
    """`start(email, role, password)`: the demo data, one user, gunicorn; (base URL, env)."""

    def start(email: str, role: str, password: str) -> tuple[str, dict[str, str]]:
        env = {"LEDGER_DATABASE_URL": sqlite_url, "LEDGER_SECRET_KEY": "e2e"}
        run_ledger(env, "init", "--demo")
        run_ledger(
            env, "users", "add", email, "--role", role, "--password-stdin", stdin=password + "\n"
        )
        return live_server(env, workers=2), env

    return start


def _background(
    tmp_path: Path, name: str, command: list[str]
) -> Iterator[Callable[[dict[str, str]], None]]:
    """`start(env)` runs `ledger COMMAND` beside the server; one that died before the end of
    the test fails it, with what it said."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(env: dict[str, str]) -> None:
        log = tmp_path / f"{name}-{len(started)}.log"
        with log.open("wb") as out:
            started.append(
                (
                    subprocess.Popen(
                        [sys.executable, "-m", "web.cli", *command],
                        cwd=ROOT,
                        env={**os.environ, **env},
                        stdout=subprocess.DEVNULL,
                        stderr=out,
                    ),
                    log,
                )
            )

    yield start
    died = [(process.returncode, log) for process, log in started if process.poll() is not None]
    for process, _log in started:
        _stop(process)
    if died:
        pytest.fail(
            f"the {name} died: "
            + "; ".join(f"exit {code}: {log.read_text()}" for code, log in died)
        )


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], None]]:
    """`follow(env)` runs `ledger project --follow` beside the server, as scripts/serve does."""
    yield from _background(tmp_path, "follower", ["project", "--follow"])


@pytest.fixture
def inbox_processor(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], None]]:
    """`process(env)` runs `ledger inbox --follow` beside the server, as scripts/serve does."""
    yield from _background(tmp_path, "inbox processor", ["inbox", "--follow"])


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright; a missing browser fails the test, never skips it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run ./scripts/test (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser: Any) -> Iterator[Any]:
    context = chromium_browser.new_context(locale="it-IT", viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_page(chromium_browser: Any) -> Iterator[Any]:
    context = chromium_browser.new_context(
        locale="it-IT",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    yield context.new_page()
    context.close()
