"""Online giving end to end: the form in Chromium to the fake checkout, and a paid delivery
showing in the progress API under gunicorn (how fast: ./scripts/bench delivery)."""

import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ledger.card_fees import CardPricing
from tests.e2e.conftest import run_ledger
from tests.fakestripe import FakeStripe, StripeStory, sign

SECRET = "whsec_e2e"
CURRENT = "legami-in-corso"


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def serve(
    url: str, fake: FakeStripe, live_server: Callable[..., str], **extra: str
) -> tuple[str, dict[str, str]]:
    env = {
        "LEDGER_DATABASE_URL": url,
        "LEDGER_SECRET_KEY": "e2e",
        "STRIPE_SECRET_KEY": "sk_test_e2e",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_API_BASE": fake.base_url,
        **extra,
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


def euro(cents: int) -> str:
    whole, part = divmod(cents, 100)
    return f"€ {whole:,}".replace(",", ".") + f",{part:02d}"


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("viewport", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_donor_sees_progress_the_amount_live_and_the_first_error_focused(
    sqlite_url: str,
    fake_stripe: FakeStripe,
    live_server: Callable[..., str],
    chromium_browser: Any,
    tmp_path: Path,
    viewport: tuple[int, int],
) -> None:
    base, _env = serve(sqlite_url, fake_stripe, live_server)
    width, height = viewport
    context = chromium_browser.new_context(
        locale="it-IT",
        viewport={"width": width, "height": height},
        is_mobile=width < 500,
        has_touch=width < 500,
    )
    page = context.new_page()
    page.goto(base + "/donate/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # The campaign's progress opens the page, above the form.
    summary = page.locator(".progress-summary")
    assert "raccolti su € 10.000,00" in summary.inner_text()
    assert summary.locator(".donors").inner_text() == "0"
    assert summary.bounding_box()["y"] < page.locator("form.donate").bounding_box()["y"]
    button = page.locator("button.give")
    assert button.inner_text() == "Dona € 25,00"
    box = button.bounding_box()
    assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= width

    # The chosen preset stands out: filled with the brand colour, the others are not.
    chosen = page.locator("label.amount-option:has(input[value='2500'])")
    other = page.locator("label.amount-option:has(input[value='5000'])")
    shot = tmp_path / "presets.png"
    page.locator("fieldset.amounts").screenshot(path=str(shot))
    image = Image.open(shot).convert("RGB")
    scale = image.width / page.locator("fieldset.amounts").bounding_box()["width"]
    origin = page.locator("fieldset.amounts").bounding_box()

    def colour_inside(label: Any) -> tuple[int, int, int]:
        b = label.bounding_box()
        x = (b["x"] - origin["x"] + 3) * scale
        y = (b["y"] - origin["y"] + b["height"] / 2) * scale
        return image.getpixel((int(x), int(y)))  # type: ignore[no-any-return]

    assert colour_inside(chosen) == (0xB3, 0x26, 0x1E)
    assert colour_inside(other) != (0xB3, 0x26, 0x1E)

    # The amount on the button follows what the donor types and chooses.
    page.fill("input[name=other_amount]", "35")
    assert button.inner_text() == "Dona € 35,00"
    fee = CardPricing(150, 25).covering(3500)
    assert page.locator(".fee-estimate").inner_text() == euro(fee)
    page.check("input[name=cover_fee]")
    assert button.inner_text() == f"Dona {euro(3500 + fee)}"
    page.check("input[name=frequency][value=monthly]")
    assert button.inner_text() == f"Dona {euro(3500 + fee)} al mese"
    page.check("input[name=amount][value='10000']")
    assert (
        button.inner_text() == f"Dona {euro(10000 + CardPricing(150, 25).covering(10000))} al mese"
    )

    # The privacy notice is linked right beside the required consent.
    consent = page.locator("input[name=privacy_consent]").bounding_box()
    link = page.locator("a.privacy-link").bounding_box()
    assert 0 <= link["y"] - consent["y"] <= 80

    # Refused: every error is tied to its field and the first one has the focus.
    page.check("input[name=amount][value=other]")
    page.fill("input[name=other_amount]", "tanti")
    page.check("input[name=tribute_kind][value=memory]")
    page.click("button.give")
    page.wait_for_load_state()
    focused = page.evaluate("document.activeElement.name")
    assert focused == "other_amount"
    for name in ("other_amount", "tribute_name", "privacy_consent"):
        field = page.locator(f"[name={name}]")
        assert field.get_attribute("aria-invalid") == "true"
        described = field.get_attribute("aria-describedby")
        assert page.locator(f"#{described}").inner_text().strip()
    page.screenshot(path=str(tmp_path / f"refused-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # Put right, the gift goes to checkout with the fee and the dedication.
    page.fill("input[name=other_amount]", "35")
    page.fill("input[name=tribute_name]", "Nonno Piero")
    page.check("input[name=privacy_consent]")
    page.check("input[name=cover_fee]")
    page.click("button.give")
    page.wait_for_url(fake_stripe.base_url + "/pay/*")
    [session] = fake_stripe.sessions.values()
    assert session["amount_total"] == 3500 + fee
    assert session["metadata"]["tribute_name"] == "Nonno Piero"

    # Back from a monthly checkout, the donor opens the customer portal in one click.
    fake_stripe.complete(session["id"])
    page.goto(f"{base}/donate/grazie?session_id={session['id']}")
    page.click("text=Gestisci o annulla la donazione mensile")
    page.wait_for_url(fake_stripe.base_url + "/portal/*")
    assert page.title() == "Fake Stripe customer portal"
    context.close()


class _HostPage(http.server.BaseHTTPRequestHandler):
    """The foundation's own site, showing two of Fondo's pages in iframes."""

    fondo = ""

    def do_GET(self) -> None:
        body = (
            "<!doctype html><title>Sito della Fondazione</title>"
            f"<iframe id=widget src='{self.fondo}/embed/campaigns/{CURRENT}'></iframe>"
            f"<iframe id=form src='{self.fondo}/donate/'></iframe>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.mark.browser
@pytest.mark.slow
def test_the_widget_shows_in_the_foundations_site_and_other_pages_do_not(
    sqlite_url: str,
    fake_stripe: FakeStripe,
    live_server: Callable[..., str],
    page: Any,
) -> None:
    host = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostPage)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    try:
        site = f"http://127.0.0.1:{host.server_port}"
        base, _env = serve(sqlite_url, fake_stripe, live_server, LEDGER_EMBED_ORIGINS=site)
        _HostPage.fondo = base
        page.goto(site + "/")
        widget = page.frame_locator("#widget")
        assert "raccolti su € 10.000,00" in widget.locator(".campaign").inner_text()
        # The donation form refuses to be framed: Chromium shows nothing of it (goto waited
        # for the load event, which waits for every frame).
        form_frame = next(f for f in page.frames if f.url.endswith("/donate/") or "error" in f.url)
        assert form_frame.evaluate("document.querySelector('form.donate') === null")
    finally:
        host.shutdown()


@pytest.mark.browser
@pytest.mark.slow
def test_a_monthly_donor_pays_then_cancels_on_the_portal_and_the_ledger_follows(
    sqlite_url: str,
    fake_stripe: FakeStripe,
    live_server: Callable[..., str],
    follower: Callable[[dict[str, str]], None],
    page: Any,
) -> None:
    base, env = serve(sqlite_url, fake_stripe, live_server)
    follower(env)
    fake_stripe.webhook_url, fake_stripe.webhook_secret = base + "/webhooks/stripe", SECRET

    def current() -> dict[str, Any]:
        with urllib.request.urlopen(f"{base}/api/v1/campaigns/{CURRENT}/progress") as r:
            return dict(json.load(r))

    def settled(expected: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 60  # a bound on a broken follower, not a speed check
        figures = current()
        while not expected(figures) and time.monotonic() < deadline:
            time.sleep(0.1)
            figures = current()
        return figures

    page.goto(base + "/donate/")
    page.check("input[name=amount][value='5000']")
    page.check("input[name=frequency][value=monthly]")
    page.check("input[name=privacy_consent]")
    page.click("button.give")
    page.wait_for_url(fake_stripe.base_url + "/pay/*")
    page.click("text=Paga")  # the fake delivers the completed session and the first invoice
    page.wait_for_url(base + "/donate/grazie?session_id=cs_test_*")
    running = settled(lambda f: f["monthly_gifts"] == 1 and f["raised_cents"] == 5000)
    assert (running["monthly_gifts"], running["monthly_cents"], running["raised_cents"]) == (
        1,
        5000,
        5000,
    )
    page.click("text=Gestisci o annulla la donazione mensile")
    page.wait_for_url(fake_stripe.base_url + "/portal/*")
    page.click("text=Annulla la donazione mensile")  # customer.subscription.deleted
    page.wait_for_url(base + "/donate/")
    after = settled(lambda f: f["monthly_gifts"] == 0)
    assert (after["monthly_gifts"], after["monthly_cents"], after["raised_cents"]) == (0, 0, 5000)
