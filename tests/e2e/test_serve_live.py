"""Real HTTP through gunicorn: the first page and the progress API on the demo data."""

import json
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from tests.e2e.conftest import run_ledger


def fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


@pytest.mark.slow
def test_gunicorn_serves_the_first_page_and_the_api(
    store_url: str, live_server: Callable[..., str]
) -> None:
    env = {"LEDGER_DATABASE_URL": store_url, "LEDGER_SECRET_KEY": "e2e"}
    run_ledger(env, "init", "--demo")
    base = live_server(env, workers=2)

    status, kind, page = fetch(base + "/")
    assert status == 200 and kind.startswith("text/html")
    assert "€ 42.708,00" in page and "2.289" in page and "€ 336.000,00" in page

    status, kind, body = fetch(base + "/api/v1/campaigns/fare-legami-anno-1/progress")
    figures = json.loads(body)
    assert status == 200 and kind == "application/json"
    assert (figures["raised_cents"], figures["donors"], figures["contacts"]) == (4270800, 2289, 324)

    status, kind, body = fetch(base + "/api/v1/campaigns/no-such-campaign/progress")
    assert status == 404 and kind == "application/json"
    assert json.loads(body)["code"] == 404

    status, _kind, body = fetch(
        base + "/api/v1/campaigns/fare-legami-anno-1/progress?as_of=not-a-date"
    )
    assert status == 422 and "Traceback" not in body
