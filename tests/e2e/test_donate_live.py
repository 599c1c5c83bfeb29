"""Online giving end to end: the form in Chromium to the fake checkout, and a paid delivery
showing in the progress API under gunicorn (how fast: ./scripts/bench delivery)."""

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import run_ledger
from tests.fakestripe import FakeStripe, StripeStory, sign

SECRET = "whsec_e2e"
CURRENT = "legami-in-corso"


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def serve(
    url: str, fake: FakeStripe, live_server: Callable[..., str]
) -> tuple[str, dict[str, str]]:
    env = {
        "LEDGER_DATABASE_URL": url,
        "LEDGER_SECRET_KEY": "e2e",
        "STRIPE_SECRET_KEY": "sk_test_e2e",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_API_BASE": fake.base_url,
    }
    run_ledger(env, "init", "--demo")
    # The demo campaigns have ended: the form offers a campaign running today.
    run_ledger(env, "campaigns", "add", CURRENT, "--name", "Legami in corso", "--target", "10000")
    run_ledger(env, "project")
    return live_server(env, workers=2), env


def progress(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + "/api/v1/campaigns/fare-legami-anni-2-3/progress") as r:
        return dict(json.load(r))


def wait_for(base: str, expected: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The progress figures once they say what is expected, or the last ones after a minute
    (a bound on a broken follower, not a speed check)."""
    deadline = time.monotonic() + 60
    figures = progress(base)
    while not expected(figures) and time.monotonic() < deadline:
        time.sleep(0.1)
        figures = progress(base)
    return figures


@pytest.mark.slow
def test_paid_delivery_shows_in_progress_with_its_figures(
    store_url: str,
    fake_stripe: FakeStripe,
    live_server: Callable[..., str],
    follower: Callable[[dict[str, str]], None],
) -> None:
    base, env = serve(store_url, fake_stripe, live_server)
    follower(env)
    before = progress(base)
    story = StripeStory()
    _session, events = story.card_gift(4200, story.customer_details("Lia Neri", "lia@example.org"))
    for event in events:
        payload = json.dumps(event).encode()
        request = urllib.request.Request(
            base + "/webhooks/stripe",
            data=payload,
            headers={"Stripe-Signature": sign(payload, SECRET), "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    # The totals and the registry are separate read models: wait for every figure asserted.
    after = wait_for(
        base,
        lambda now: (
            (
                now["raised_cents"] - before["raised_cents"],
                now["contacts"] - before["contacts"],
            )
            == (4200, 1)
        ),
    )
    assert after["raised_cents"] - before["raised_cents"] == 4200
    assert after["contacts"] - before["contacts"] == 1
    report = run_ledger(env, "report", "progress", "--campaign", "fare-legami-anni-2-3", "--json")
    assert json.loads(report)[0]["raised_cents"] == after["raised_cents"]


@pytest.mark.browser
@pytest.mark.slow
def test_donor_fills_the_form_on_a_phone_and_lands_on_checkout(
    sqlite_url: str,
    fake_stripe: FakeStripe,
    live_server: Callable[..., str],
    phone_page: Any,
    tmp_path: Path,
) -> None:
    base, _env = serve(sqlite_url, fake_stripe, live_server)
    page = phone_page
    page.goto(base + "/donate/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot = tmp_path / "donate-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.check("input[name=amount][value=other]")
    page.fill("input[name=other_amount]", "35,00")
    page.check("input[name=frequency][value=monthly]")
    page.fill("input[name=tax_code]", "RSSMRA80A01D150J")
    page.click("button[type=submit]")  # without consent: refused with a message
    assert "Serve il consenso" in page.content()
    page.check("input[name=privacy_consent]")
    page.fill("input[name=other_amount]", "35,00")
    page.check("input[name=amount][value=other]")
    page.check("input[name=frequency][value=monthly]")
    page.click("button[type=submit]")
    page.wait_for_url(fake_stripe.base_url + "/pay/*")
    assert page.title() == "Fake Stripe Checkout"
    assert page.inner_text("#amount") == "€ 35,00" and page.inner_text("#mode") == "subscription"
    [session] = fake_stripe.sessions.values()
    assert session["metadata"]["tax_code"] == "RSSMRA80A01D150J"
    assert session["metadata"]["campaign"] == CURRENT


@pytest.mark.browser
@pytest.mark.slow
def test_typing_an_amount_chooses_it_with_or_without_the_script(
    sqlite_url: str, fake_stripe: FakeStripe, live_server: Callable[..., str], chromium_browser: Any
) -> None:
    base, _env = serve(sqlite_url, fake_stripe, live_server)
    for script in (True, False):
        context = chromium_browser.new_context(locale="it-IT", java_script_enabled=script)
        page = context.new_page()
        page.goto(base + "/donate/")
        assert page.is_checked("input[name=amount][value='2500']")  # the preselected €25
        page.fill("input[name=other_amount]", "35")
        page.check("input[name=privacy_consent]")
        if not script:
            # The server refuses €25 selected with €35 typed, and says why.
            page.click("button[type=submit]")
            assert "Hai scelto € 25,00 ma scritto € 35,00" in page.inner_text("main")
            assert fake_stripe.sessions == {}
            page.check("input[name=amount][value=other]")
            page.check("input[name=privacy_consent]")
        else:
            assert page.is_checked("input[name=amount][value=other]")
        page.click("button[type=submit]")
        page.wait_for_url(fake_stripe.base_url + "/pay/*")
        assert page.inner_text("#amount") == "€ 35,00"
        assert [s["amount_total"] for s in fake_stripe.sessions.values()] == [3500]
        fake_stripe.sessions.clear()
        if script:  # choosing a preset afterwards clears the typed amount
            page.goto(base + "/donate/")
            page.fill("input[name=other_amount]", "35")
            page.check("input[name=amount][value='5000']")
            assert page.input_value("input[name=other_amount]") == ""
        context.close()
