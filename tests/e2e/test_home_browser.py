"""The first page in a real Chromium, on a phone: figures in Italian, nothing off the screen."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import run_ledger


@pytest.mark.browser
@pytest.mark.slow
def test_home_page_on_a_phone(
    sqlite_url: str, live_server: Callable[..., str], phone_page: Any, tmp_path: Path
) -> None:
    env = {"LEDGER_DATABASE_URL": sqlite_url, "LEDGER_SECRET_KEY": "e2e"}
    run_ledger(env, "init", "--demo")
    base = live_server(env, workers=1)
    phone_page.goto(base + "/")
    year1 = phone_page.locator('article[data-campaign="fare-legami-anno-1"]')
    assert "€ 42.708,00" in year1.inner_text()
    assert year1.locator(".donors").inner_text() == "2.289"
    assert year1.locator(".contacts").inner_text() == "324"
    target = phone_page.locator('article[data-campaign="fare-legami-anni-2-3"] progress')
    assert target.get_attribute("max") == "33600000"
    overflow = phone_page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0
    shot = tmp_path / "home-phone.png"
    phone_page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
