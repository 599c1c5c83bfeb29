"""Two phones close the same stand at the same moment: exactly one wins, through gunicorn."""

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import run_ledger

ROUNDS = 6


def call(
    base: str, path: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.slow
def test_parallel_closes_one_wins_the_other_gets_409(
    postgres_url: str, live_server: Callable[..., str]
) -> None:
    env = {"LEDGER_DATABASE_URL": postgres_url, "LEDGER_SECRET_KEY": "e2e"}

    def ledger(*args: str) -> str:
        return run_ledger(env, *args)

    ledger("init", "--demo")
    for phone in ("phone@example.org", "second@example.org"):
        # The volunteers' own passwords: a printed one-time one would hold their tokens back.
        run_ledger(
            env,
            *("users", "add", phone, "--role", "volunteer", "--password-stdin"),
            stdin="una-password-lunga\n",
        )
    token = ledger("users", "token", "phone@example.org").strip()
    second_counter = ledger("users", "token", "second@example.org").strip()
    base = live_server(env, workers=4)

    for round_number in range(ROUNDS):
        status, stand = call(
            base,
            "/api/v1/stands",
            token,
            {
                "campaign": "fare-legami-anni-2-3",
                "place": f"Piazza {round_number}",
                "comune": "Crema",
                "district": "Crema",
                "day": "2016-10-01",
                "volunteers": ["Anna", "Bruno"],
            },
        )
        assert status == 201
        path = f"/api/v1/stands/{stand['id']}"
        for _ in range(3):
            call(base, path + "/tallies", token, {"entry_id": str(uuid.uuid4())})
        for counter in (token, second_counter):  # two volunteers, each with their account
            call(base, path + "/counts", counter, {"denominations": {"1000": 2}})
        barrier = threading.Barrier(2)

        def close(close_path: str, start: threading.Barrier) -> tuple[int, dict[str, Any]]:
            start.wait(timeout=30)
            return call(base, close_path, token)

        with ThreadPoolExecutor(2) as phones:
            closes = [phones.submit(close, path + "/close", barrier) for _ in range(2)]
        answers = [answer.result() for answer in closes]  # a phone's failure fails the test
        assert sorted(status for status, _ in answers) == [200, 409], answers
        refused = next(body for status, body in answers if status == 409)
        assert refused["state"]["status"] == "closed" and refused["message"]

    figures = json.loads(
        ledger("report", "progress", "--campaign", "fare-legami-anni-2-3", "--json")
    )[0]
    assert (figures["raised_cents"], figures["donors"]) == (ROUNDS * 2000, ROUNDS * 3)
