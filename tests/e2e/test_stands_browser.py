"""A volunteer's day at a stand in a real Chromium on a phone, with the network dropping."""

import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import run_ledger

PASSWORD = "banchetto-in-piazza"
CURRENT = "legami-in-piazza"  # the demo campaigns have ended: stands serve one running today


def no_horizontal_overflow(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def progress(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/api/v1/campaigns/{CURRENT}/progress") as r:
        return dict(json.load(r))


def wait_for(base: str, expected: tuple[int, int, int]) -> tuple[int, int, int]:
    """(donors, contacts, raised) once the follower shows them, or the last seen after a
    minute (a bound on a broken follower, not a speed check)."""
    deadline = time.monotonic() + 60
    while True:
        figures = progress(base)
        seen = (figures["donors"], figures["contacts"], figures["raised_cents"])
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def start_stand_site(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
) -> tuple[str, dict[str, str]]:
    base, env = demo_site("anna@example.org", "volunteer", PASSWORD)
    run_ledger(env, "campaigns", "add", CURRENT, "--name", "Legami in piazza", "--target", "5000")
    run_ledger(env, "project")
    follower(env)
    return base, env


@pytest.mark.browser
@pytest.mark.slow
def test_volunteer_runs_a_stand_from_a_phone(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
    tmp_path: Path,
) -> None:
    base, _env = start_stand_site(demo_site, follower)
    page = phone_page

    page.goto(base + "/stands/")
    page.fill("input[name=email]", "anna@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/stands/")
    assert no_horizontal_overflow(page)
    page.select_option("select[name=campaign]", CURRENT)
    page.fill("input[name=place]", "Piazza Stradivari")
    page.fill("input[name=comune]", "Cremona")
    page.fill("input[name=volunteers]", "Anna, Bruno")
    page.click("text=Apri il banchetto")
    page.wait_for_selector("#plus-one")
    assert no_horizontal_overflow(page)
    shot = tmp_path / "stand-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    plus_one = page.locator("#plus-one")
    for _ in range(10):
        plus_one.tap()
    expect(page.locator("#pending")).to_have_text("0")

    page.context.set_offline(True)
    for _ in range(7):
        plus_one.tap()
    page.locator(".chip").first.tap()  # +1 with €1
    expect(page.locator("#network")).to_have_class(re.compile("offline"))
    page.locator("#undo").tap()  # the chip tap, never sent: simply dropped from the queue
    assert page.locator("#pending").inner_text() == "7"
    assert page.locator("#tallied").inner_text() == "17"
    page.context.set_offline(False)
    expect(page.locator("#pending")).to_have_text("0", timeout=15_000)
    assert page.locator("#tallied").inner_text() == "17"

    page.click("text=Donatore con contatto")
    page.fill("#named-form input[name=first_name]", "Carla")
    page.fill("#named-form input[name=last_name]", "Verdi")
    page.fill("#named-form input[name=email]", "carla.verdi@example.org")
    page.fill("#named-form input[name=amount]", "20,00")
    page.check("#named-form input[name=privacy_consent]")
    page.click("#named-form button[type=submit]")
    expect(page.locator("#named-count")).to_have_text("1")

    page.click("text=Conteggio e chiusura")
    for counter in ("Anna", "Bruno"):
        page.fill("#count-form input[name=counter]", counter)
        page.fill("#count-form input[name=d5000]", "1")
        page.fill("#count-form input[name=d1000]", "4")
        page.fill("#count-form input[name=d50]", "3")
        page.click("#count-form button[type=submit]")
        page.wait_for_selector(f"#counts li:has-text('{counter}')")
    page.click("#close")
    page.wait_for_selector("#close-message:has-text('Chiuso')")
    assert "€ 91,50" in page.locator("#close-message").inner_text()
    assert no_horizontal_overflow(page)

    assert wait_for(base, (18, 1, 9150)) == (18, 1, 9150)


def api(base: str, token: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stands API as another phone with a personal token uses it."""
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def sign_in(page: Any) -> None:
    page.fill("input[name=email]", "anna@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")  # not the header's sign-out button


@pytest.mark.browser
@pytest.mark.slow
def test_no_tap_is_dropped_when_the_csrf_token_or_the_session_expires(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
) -> None:
    base, env = start_stand_site(demo_site, follower)
    token = run_ledger(env, "users", "token", "anna@example.org").strip()
    page = phone_page
    page.goto(base + "/stands/")
    sign_in(page)
    page.wait_for_url(base + "/stands/")
    page.select_option("select[name=campaign]", CURRENT)
    page.fill("input[name=place]", "Piazza Garibaldi")
    page.fill("input[name=comune]", "Casalmaggiore")
    page.fill("input[name=volunteers]", "Anna, Bruno")
    page.click("text=Apri il banchetto")
    page.wait_for_selector("#plus-one")
    stand = "/api/v1/stands/" + page.url.rstrip("/").rsplit("/", 1)[1]
    plus_one, pending, problem = (
        page.locator("#plus-one"),
        page.locator("#pending"),
        page.locator("#queue-problem"),
    )
    for _ in range(3):
        plus_one.tap()
    expect(pending).to_have_text("0")
    assert api(base, token, stand)["tallied"] == 3

    # Signing in again in another tab renews the session's CSRF secret: this page's token is
    # stale, and the server refuses it (400). The page renews it and resends.
    other = page.context.new_page()
    other.goto(base + "/login")
    sign_in(other)
    other.wait_for_url(base + "/")
    other.close()
    for _ in range(4):
        plus_one.tap()
    expect(pending).to_have_text("0", timeout=15_000)
    assert api(base, token, stand)["tallied"] == 7
    expect(problem).to_be_hidden()

    # The session expires: the taps stay in the phone and the page says so.
    page.context.clear_cookies()
    plus_one.tap()
    plus_one.tap()
    expect(problem).to_contain_text("Sessione scaduta: 2 in coda")
    assert pending.inner_text() == "2" and page.locator("#tallied").inner_text() == "9"
    assert api(base, token, stand)["tallied"] == 7
    page.click("#queue-problem a")  # sign in again: back on the stand, the queue goes out
    sign_in(page)
    page.wait_for_selector("#plus-one")
    expect(pending).to_have_text("0", timeout=15_000)
    assert api(base, token, stand)["tallied"] == 9

    # Another phone counts and closes the stand: a tap sent now is refused (409), not dropped.
    for counter in ("Anna", "Bruno"):
        api(base, token, stand + "/counts", {"counter": counter, "denominations": {"500": 3}})
    assert api(base, token, stand + "/close", {})["closing"]["tallied"] == 9
    plus_one.tap()
    expect(problem).to_contain_text("409")
    expect(problem).to_contain_text("chiuso")
    with page.expect_response(
        lambda answer: answer.url.endswith("/tallies") and answer.status == 409, timeout=15_000
    ):
        pass  # the page's next retry is refused too, and the tap is still kept
    assert pending.inner_text() == "1"
    assert api(base, token, stand)["tallied"] == 9
