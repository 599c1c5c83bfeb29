"""A volunteer's day at a stand in a real Chromium on a phone, with the network dropping."""

import json
import random
import re
import string
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, run_ledger

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
    run_ledger(
        env,
        "users",
        "add",
        "bruno@example.org",
        "--role",
        "volunteer",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    run_ledger(env, "campaigns", "add", CURRENT, "--name", "Legami in piazza", "--target", "5000")
    run_ledger(env, "project")
    follower(env)
    return base, env


def open_stand_page(page: Any, base: str, place: str) -> str:
    """Sign in as Anna, open a stand at `place`; the stand's API path."""
    page.goto(base + "/stands/")
    sign_in(page)
    page.wait_for_url(base + "/stands/")
    page.select_option("select[name=campaign]", CURRENT)
    page.fill("input[name=place]", place)
    page.fill("input[name=comune]", "Cremona")
    page.fill("input[name=volunteers]", "Anna, Bruno")
    page.click("text=Apri il banchetto")
    page.wait_for_selector("#plus-one")
    return "/api/v1/stands/" + page.url.rstrip("/").rsplit("/", 1)[1]


def stand_on_phone(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    page: Any,
    place: str,
    reader: str,
) -> tuple[str, str, str, str]:
    """Anna at a stand opened at `place` on `page`: the site's address, an API token of
    `reader` to read the stand as the server holds it, the stand's API path, its page."""
    base, env = start_stand_site(demo_site, follower)
    token = run_ledger(env, "users", "token", reader).strip()
    stand = open_stand_page(page, base, place)
    return base, token, stand, page.url


# Everything a thumb can press on the stand page, header included (a checkbox is pressed
# through its label).
TARGETS = (
    ".topbar a, .topbar button, #stand button, #stand summary, #stand a, "
    "#stand input:not([type=checkbox]), #stand select, #stand label.check"
)


def small_targets(page: Any) -> list[str]:
    """Visible tap targets smaller than 44×44 CSS px, described."""
    small = []
    for handle in page.query_selector_all(TARGETS):
        box = handle.bounding_box()
        if box is None or not handle.is_visible():
            continue
        if box["width"] < 44 or box["height"] < 44:
            small.append(f"{handle.evaluate('e => e.outerHTML.slice(0, 80)')} {box}")
    return small


def unlabelled(page: Any) -> list[str]:
    """Form controls of the stand page with no label a screen reader would read."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('#stand input, #stand select, #stand button')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                              && !el.textContent.trim())
                .map(el => el.outerHTML.slice(0, 80))"""
        )
    )


def pixel(shot: Path, x: float, y: float, scale: int = 2) -> tuple[int, int, int]:
    """The colour of the screenshot at CSS pixel (x, y)."""
    from PIL import Image

    with Image.open(shot) as image:
        red, green, blue = image.convert("RGB").getpixel((int(x * scale), int(y * scale)))
        return red, green, blue


@pytest.mark.browser
@pytest.mark.slow
def test_volunteer_runs_a_stand_from_a_phone(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
    chromium_browser: Any,
    tmp_path: Path,
) -> None:
    base, _env = start_stand_site(demo_site, follower)
    page = phone_page
    page.goto(base + "/stands/")
    assert no_horizontal_overflow(page)
    open_stand_page(page, base, "Piazza Stradivari")
    assert no_horizontal_overflow(page)
    page.click("text=Donatore con contatto")
    page.click("text=Conteggio e chiusura")
    page.click("text=altri tagli")
    assert small_targets(page) == []
    assert unlabelled(page) == []
    for closed_only in ("#closed-banner", "#final-figures", "#close-confirm"):
        assert page.locator(closed_only).is_hidden(), closed_only
    assert page.locator("#queue-status").get_attribute("aria-live") == "polite"
    page.screenshot(path=str(tmp_path / "stand-phone.png"), full_page=True)
    plus = page.locator("#plus-one").bounding_box()
    assert plus["width"] >= 300 and plus["height"] >= 88  # the +1 fills the phone's width
    shot = tmp_path / "plus-one.png"
    page.locator("#plus-one").screenshot(path=str(shot))
    assert pixel(shot, 10, 10) == (0x1B, 0x7F, 0x3B)  # green, not greyed out
    page.click("text=altri tagli")
    page.click("text=Donatore con contatto")
    page.click("text=Conteggio e chiusura")

    plus_one = page.locator("#plus-one")
    for _ in range(10):
        plus_one.tap()
    expect(page.locator("#queue-text")).to_have_text("Tutto registrato")

    page.context.set_offline(True)
    for _ in range(7):
        plus_one.tap()
    page.locator(".chip").first.tap()  # +1 with €1
    expect(page.locator("#network")).to_have_class(re.compile("offline"))
    expect(page.locator("#running-total")).to_have_text("€ 1,00")
    page.locator("#undo").tap()  # the chip tap, never sent: simply dropped from the queue
    assert page.locator("#pending").inner_text() == "7"
    assert page.locator("#queue-text").inner_text() == "7 in coda, non ancora registrati"
    assert page.locator("#givers").inner_text() == "17"
    assert page.locator("#running-total").inner_text() == "€ 0,00"
    page.context.set_offline(False)
    expect(page.locator("#pending")).to_have_text("0", timeout=15_000)
    assert page.locator("#givers").inner_text() == "17"
    page.locator(".chip").nth(2).tap()  # +1 with €5
    expect(page.locator("#running-total")).to_have_text("€ 5,00")

    page.click("text=Donatore con contatto")
    page.fill("#named-form input[name=first_name]", "Carla")
    page.fill("#named-form input[name=last_name]", "Verdi")
    page.fill("#named-form input[name=email]", "carla.verdi@example.org")
    page.fill("#named-form input[name=amount]", "20,00")
    page.check("#named-form input[name=privacy_consent]")
    page.click("#named-form button[type=submit]")
    expect(page.locator("#named-count")).to_have_text("1")
    expect(page.locator("#named-message")).to_have_text("Registrato: Carla Verdi, € 20,00.")
    expect(page.locator("#named-entries")).to_contain_text("Carla Verdi · € 20,00 — registrato")
    # Givers are counted as everywhere else: taps + named givers; the euro beside them.
    assert page.locator("#givers").inner_text() == "19"
    assert page.locator("#running-total").inner_text() == "€ 25,00"

    page.click("text=Conteggio e chiusura")
    # The common notes and coins first; the rare ones wait behind "altri tagli".
    assert page.locator("#count-form input[name=d5000]").is_visible()
    assert not page.locator("#count-form input[name=d50000]").is_visible()
    assert not page.locator("#count-form input[name=d1]").is_visible()

    def count(phone: Any, miscount: bool = False) -> None:
        phone.fill("#count-form input[name=d5000]", "1")
        phone.fill("#count-form input[name=d1000]", "4")
        phone.fill("#count-form input[name=d50]", "13" if miscount else "3")
        expect(phone.locator("#count-total")).to_have_text("€ 96,50" if miscount else "€ 91,50")
        phone.click("#count-form button[type=submit]")

    count(page, miscount=True)  # Anna miscounts first
    expect(page.locator("#counts li")).to_have_text(["anna@example.org: € 96,50"])
    expect(page.locator("#count-message")).to_have_text("Conteggio registrato: € 96,50.")
    expect(page.locator("#count-submit")).to_have_text("Ricontare (sostituisce il tuo conteggio)")
    count(page)  # and counts again: her first count is replaced, not a second one
    expect(page.locator("#counts li")).to_have_text(
        ["anna@example.org: € 96,50 (sostituito)", "anna@example.org: € 91,50"]
    )
    page.click("#close")
    expect(page.locator("#close-message")).to_have_text(
        "Servono i conteggi di due volontari diversi, ognuno con il proprio account."
    )

    # Bruno counts on his own phone, signed in as himself.
    context = chromium_browser.new_context(
        locale="it-IT", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        bruno = context.new_page()
        bruno.goto(page.url)
        bruno.fill("input[name=email]", "bruno@example.org")
        bruno.fill("input[name=password]", PASSWORD)
        bruno.click("main button[type=submit]")
        bruno.wait_for_selector("#plus-one")
        bruno.click("text=Conteggio e chiusura")
        expect(bruno.locator("#me")).to_have_text("bruno@example.org")
        count(bruno)
        expect(bruno.locator("#count-message")).to_have_text("Conteggio registrato: € 91,50.")
    finally:
        context.close()

    page.click("#close")
    confirm = page.locator("#close-confirm")
    expect(confirm).to_be_visible()
    assert page.locator("#confirm-givers").inner_text() == "19"
    assert page.locator("#confirm-counts").inner_text() == (
        "anna@example.org: € 91,50; bruno@example.org: € 91,50"
    )
    page.click("#close-no")  # not yet: nothing closed
    expect(confirm).to_be_hidden()
    assert page.locator("#plus-one").is_enabled()
    page.click("#close")
    page.click("#close-yes")
    expect(page.locator("#close-message")).to_have_text("Chiuso: contati € 91,50.")
    banner = page.locator("#closed-banner")
    expect(banner).to_have_text(
        "Banchetto chiuso: contati € 91,50, di cui € 20,00 da donatori con contatto; 19 donatori."
    )
    assert page.locator("#final-anonymous").inner_text() == "€ 71,50"
    for control in ("#plus-one", "#undo", "#close", ".chip >> nth=0", "#count-submit"):
        assert page.locator(control).is_disabled(), control

    # Opened again later, the stand looks closed at the top of the page.
    page.reload()
    banner_box = banner.bounding_box()
    closed_shot = tmp_path / "stand-closed.png"
    page.screenshot(path=str(closed_shot))
    heading = page.locator("h1").bounding_box()
    assert banner_box["y"] < heading["y"] and banner_box["y"] < 150 and banner_box["height"] >= 44
    assert pixel(closed_shot, banner_box["x"] + 4, banner_box["y"] + 4) == (0x5B, 0x64, 0x75)
    assert page.locator(".chip").first.is_disabled() and page.locator("#plus-one").is_disabled()
    assert no_horizontal_overflow(page)
    assert small_targets(page) == []

    assert wait_for(base, (19, 1, 9150)) == (19, 1, 9150)


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
    second = run_ledger(env, "users", "token", "bruno@example.org").strip()
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
    assert pending.inner_text() == "2" and page.locator("#givers").inner_text() == "9"
    assert api(base, token, stand)["tallied"] == 7
    page.click("#queue-problem a")  # sign in again: back on the stand, the queue goes out
    sign_in(page)
    page.wait_for_selector("#plus-one")
    expect(pending).to_have_text("0", timeout=15_000)
    assert api(base, token, stand)["tallied"] == 9

    # Another phone counts and closes the stand: a tap sent now is refused (409), not dropped.
    for counter in (token, second):
        api(base, counter, stand + "/counts", {"denominations": {"500": 3}})
    assert api(base, token, stand + "/close", {})["closing"]["tallied"] == 9
    plus_one.tap()
    expect(problem).to_contain_text("409")
    expect(problem).to_contain_text("Il banchetto è chiuso: non si registra più nulla.")
    # Closed from the other phone: this one shows it at the top and stops taking taps.
    expect(page.locator("#closed-banner")).to_contain_text("Banchetto chiuso: contati € 15,00")
    assert plus_one.is_disabled() and page.locator(".chip").first.is_disabled()
    with page.expect_response(
        lambda answer: answer.url.endswith("/tallies") and answer.status == 409, timeout=15_000
    ):
        pass  # the page's next retry is refused too, and the tap is still kept
    assert pending.inner_text() == "1"
    assert api(base, token, stand)["tallied"] == 9


def kept_by_the_worker(page: Any) -> bool:
    """Whether the service worker controls the page and keeps a copy of it."""
    return bool(
        page.evaluate(
            """async () => {
                if (!navigator.serviceWorker.controller) { return false; }
                for (const name of await caches.keys()) {
                    const cache = await caches.open(name);
                    if (await cache.match(location.pathname)) { return true; }
                }
                return false;
            }"""
        )
    )


def wait_until(check: Callable[[], bool]) -> bool:
    """`check()` once it holds, or its last answer after half a minute (a bound, not a
    speed check)."""
    deadline = time.monotonic() + 30
    while not check() and time.monotonic() < deadline:
        time.sleep(0.2)
    return check()


@pytest.mark.browser
@pytest.mark.slow
def test_the_stand_page_works_with_no_network_across_reloads_and_closed_tabs(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
) -> None:
    page = phone_page
    base, token, stand, url = stand_on_phone(
        demo_site, follower, page, "Piazza Roma", "anna@example.org"
    )
    worker = page.request.get(base + "/stands/sw.js")
    assert worker.headers["service-worker-allowed"] == "/stands/"
    assert worker.headers["cache-control"] == "no-cache"
    assert "fondo-stands-" in worker.text()
    assert wait_until(lambda: kept_by_the_worker(page))

    sent: list[tuple[str, str]] = []  # (path, entry id) of what the server took, in order

    def watch(phone: Any) -> None:
        phone.on(
            "response",
            lambda answer: (
                sent.append(
                    (answer.url.rsplit("/", 1)[1], json.loads(answer.request.post_data)["entry_id"])
                )
                if answer.request.method == "POST" and answer.ok and "/api/v1/stands/" in answer.url
                else None
            ),
        )

    page.context.set_offline(True)
    api(base, token, stand + "/tallies", {"entry_id": str(uuid.uuid4())})  # another phone
    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker
    expect(page.locator("#network")).to_have_class(re.compile("offline"))
    # The copy kept by the worker, not the server's page (which knows the other phone's tap).
    assert json.loads(page.locator("#stand-state").text_content())["tallied"] == 0
    plus_one = page.locator("#plus-one")
    for _ in range(3):
        plus_one.tap()
    page.locator(".chip").nth(1).tap()  # +1 with €2
    page.click("text=Donatore con contatto")
    page.fill("#named-form input[name=first_name]", "Dario")
    page.fill("#named-form input[name=last_name]", "Neri")
    page.fill("#named-form input[name=phone]", "+39 333 123 4567")
    page.fill("#named-form input[name=amount]", "15")
    page.check("#named-form input[name=privacy_consent]")
    page.click("#named-form button[type=submit]")
    expect(page.locator("#named-message")).to_have_text(
        "In coda: Dario Neri, € 15,00. Diventa «registrato» quando il server conferma."
    )
    expect(page.locator("#named-entries li")).to_have_text(["Dario Neri · € 15,00 — in coda"])
    page.click("text=Conteggio e chiusura")
    page.fill("#count-form input[name=d1000]", "3")
    page.click("#count-form button[type=submit]")
    expect(page.locator("#counts li")).to_have_text(["anna@example.org: € 30,00 (in coda)"])
    assert page.locator("#queue-text").inner_text() == "6 in coda, non ancora registrati"
    assert page.locator("#givers").inner_text() == "5"
    assert page.locator("#running-total").inner_text() == "€ 17,00"
    queued = page.evaluate(
        "JSON.parse(localStorage.getItem('fondo-queue-' + document.getElementById('stand')"
        ".dataset.stand)).map(item => [item.path.split('/').pop(), item.body.entry_id])"
    )
    assert [path for path, _id in queued] == ["tallies"] * 4 + ["named-gifts", "counts"]

    page.reload()  # still offline
    expect(page.locator("#network")).to_have_class(re.compile("offline"))
    assert page.locator("#pending").inner_text() == "6"
    page.close()  # the tab is closed; a new one opens the stand, still with no network
    phone = phone_page.context.new_page()
    watch(phone)
    phone.goto(url)
    expect(phone.locator("#network")).to_have_class(re.compile("offline"))
    assert phone.locator("#pending").inner_text() == "6"
    assert phone.locator("#givers").inner_text() == "5"
    expect(phone.locator("#named-entries li")).to_have_text(["Dario Neri · € 15,00 — in coda"])

    phone.context.set_offline(False)
    expect(phone.locator("#queue-text")).to_have_text("Tutto registrato", timeout=15_000)
    expect(phone.locator("#named-entries li")).to_have_text(["Dario Neri · € 15,00 — registrato"])
    expect(phone.locator("#counts li")).to_have_text(["anna@example.org: € 30,00"])
    # Sent in the order made, with the ids made on the phone.
    assert sent == [(path, entry) for path, entry in queued]
    state = api(base, token, stand)
    assert (state["tallied"], state["named"], state["tallied_cents"]) == (5, 1, 200)
    assert [c["total_cents"] for c in state["counts"]] == [3000]
    assert phone.locator("#givers").inner_text() == "6"

    # The list of stands counts givers as the stand page does: taps + named givers.
    def listed() -> bool:
        phone.goto(base + "/stands/")
        return "6 donatori" in phone.locator("a.card-link:has-text('Piazza Roma')").inner_text()

    assert wait_until(listed)


@pytest.mark.browser
@pytest.mark.slow
def test_a_refused_named_giver_keeps_what_was_typed_with_the_reason_beside_the_field(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
) -> None:
    base, _env = start_stand_site(demo_site, follower)
    page = phone_page
    open_stand_page(page, base, "Piazza Cavour")
    posted: list[str] = []
    page.on(
        "request",
        lambda request: posted.append(request.url) if request.method == "POST" else None,
    )
    page.click("text=Donatore con contatto")
    expect(page.locator("#contact-hint")).to_contain_text(
        "Serve almeno un contatto: e-mail, telefono o codice fiscale"
    )
    form = "#named-form "
    page.fill(form + "input[name=first_name]", "Maria")
    page.fill(form + "input[name=last_name]", "Rossi")
    page.fill(form + "input[name=amount]", "12,50")
    page.check(form + "input[name=privacy_consent]")
    page.click(form + "button[type=submit]")
    expect(page.locator("#error-contact")).to_have_text(
        "Serve almeno un contatto: e-mail, telefono o codice fiscale."
    )
    page.fill(form + "input[name=tax_code]", "RSSMRA80A01D150X")  # wrong check letter
    page.click(form + "button[type=submit]")
    expect(page.locator("#error-tax_code")).to_contain_text("Codice fiscale non valido")
    assert page.locator(form + "input[name=tax_code]").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.name") == "tax_code"
    assert page.locator("#error-contact").is_hidden()
    assert not [url for url in posted if url.endswith("/named-gifts")]  # checked on the phone

    # The phone lets this number through; the server does not know it: the giver comes back.
    page.fill(form + "input[name=tax_code]", "rssmra80a01d150j")
    page.fill(form + "input[name=phone]", "+1 123456")
    page.click(form + "button[type=submit]")
    expect(page.locator("#error-phone")).to_have_text("Numero di telefono non valido.")
    expect(page.locator("#named-message")).to_contain_text("Non registrato: Maria Rossi.")
    expect(page.locator("#named-entries li")).to_contain_text(["Maria Rossi · € 12,50"])
    expect(page.locator("#named-entries li")).to_contain_text(["non registrato"])
    for name, typed in (
        ("first_name", "Maria"),
        ("last_name", "Rossi"),
        ("tax_code", "rssmra80a01d150j"),
        ("phone", "+1 123456"),
        ("amount", "12,50"),
    ):
        assert page.locator(f"{form}input[name={name}]").input_value() == typed, name
    assert page.locator(form + "input[name=privacy_consent]").is_checked()
    assert page.locator(form + "input[name=phone]").get_attribute("aria-invalid") == "true"
    assert page.locator("#named-count").inner_text() == "0"
    page.fill(form + "input[name=phone]", "")
    page.click(form + "button[type=submit]")
    expect(page.locator("#named-entries li")).to_have_text(["Maria Rossi · € 12,50 — registrato"])
    expect(page.locator("#named-count")).to_have_text("1")

    # In English, the page and the server's answers are all English, amounts in euro.
    page.goto(page.url + "?lang=en")
    page.click("text=Giver who leaves a contact")
    page.fill(form + "input[name=first_name]", "Luca")
    page.fill(form + "input[name=last_name]", "Bianchi")
    page.fill(form + "input[name=phone]", "+1 123456")
    page.fill(form + "input[name=amount]", "1.234,50")
    page.check(form + "input[name=privacy_consent]")
    page.click(form + "button[type=submit]")
    expect(page.locator("#error-phone")).to_have_text("Not a valid phone number.")
    expect(page.locator("#named-message")).to_contain_text("Not recorded: Luca Bianchi.")
    expect(page.locator("#named-entries li").first).to_have_text(
        "Luca Bianchi · €1,234.50 — not recorded Correct"
    )
    assert page.locator("#running-total").inner_text() == "€12.50"


def tax_codes(count: int) -> list[str]:
    """Codici fiscali (some with omocodia letters, some impossible dates, some wrong check
    letters) and partite IVA (some from no office), made from a fixed seed."""
    from stdnum import luhn
    from stdnum.it import codicefiscale

    rng = random.Random(13)
    letters, omocodia = string.ascii_uppercase, "LMNPQRSTUV"
    codes = []
    for _ in range(count):
        body = "".join(rng.choice(letters) for _ in range(6)) + (
            f"{rng.randint(0, 99):02d}{rng.choice('ABCDEHLMPRST')}{rng.randint(0, 99):02d}"
            f"{rng.choice(letters)}{rng.randint(0, 999):03d}"
        )
        if rng.random() < 0.3:
            body = "".join(
                omocodia[int(c)] if c.isdigit() and rng.random() < 0.5 else c for c in body
            )
        check = codicefiscale.calc_check_digit(body) if rng.random() < 0.7 else rng.choice(letters)
        number = "".join(rng.choice(string.digits) for _ in range(7))
        number += rng.choice(["001", "050", "100", "101", "120", "888", "999", "500"])
        codes += [body + check, number + luhn.calc_check_digit(number)]
    return codes


@pytest.mark.slow
@pytest.mark.browser
def test_the_phone_checks_a_tax_code_as_the_server_does(page: Any) -> None:
    from ledger.errors import InvalidInputError
    from ledger.identity import normalize_tax_code

    script = (ROOT / "web" / "static" / "stands.js").read_text(encoding="utf-8")
    checks = script[script.index("  var ODD = {") : script.index("  function phoneValid")]
    codes = tax_codes(1500) + ["rssmra80a01d150j", "RSSMRA80A01D150X", "IT00743110157"]
    on_the_phone = page.evaluate(f"codes => {{ {checks}; return codes.map(taxCodeValid); }}", codes)

    def on_the_server(code: str) -> bool:
        try:
            return normalize_tax_code(code) is not None
        except InvalidInputError:
            return False

    expected = [on_the_server(code) for code in codes]
    assert on_the_phone == expected
    assert 1000 < sum(expected) < len(codes) - 500  # both answers are well represented


# A phone shared between shifts: what one volunteer leaves behind when signing out.


def sign_in_as(page: Any, email: str) -> None:
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")


def stored(page: Any) -> str:
    """Everything the site keeps in the phone's localStorage, as one text."""
    return str(page.evaluate("JSON.stringify(Object.assign({}, localStorage))"))


def kept_pages(page: Any) -> list[str]:
    """The paths of the pages the service worker's caches keep (assets aside)."""
    return list(
        page.evaluate(
            """async () => {
                const kept = [];
                for (const name of await caches.keys()) {
                    for (const request of await (await caches.open(name)).keys()) {
                        const path = new URL(request.url).pathname;
                        if (!path.startsWith('/static/')) { kept.push(path); }
                    }
                }
                return kept;
            }"""
        )
    )


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Esci").click()


def queued(page: Any) -> list[str]:
    """The paths of the entries waiting in the phone's queue of the stand on the page."""
    return list(
        page.evaluate(
            "JSON.parse(localStorage.getItem('fondo-queue-' + document.getElementById('stand')"
            ".dataset.stand) || '[]').map(item => item.path)"
        )
    )


def log_named_giver(page: Any, first: str, last: str, amount: str) -> None:
    if not page.locator("#named-panel").evaluate("panel => panel.open"):
        page.click("text=Donatore con contatto")
    page.fill("#named-form input[name=first_name]", first)
    page.fill("#named-form input[name=last_name]", last)
    page.fill("#named-form input[name=phone]", "+39 333 123 4567")
    page.fill("#named-form input[name=amount]", amount)
    page.check("#named-form input[name=privacy_consent]")
    page.click("#named-form button[type=submit]")


@pytest.mark.browser
@pytest.mark.slow
def test_the_next_volunteer_on_the_phone_finds_no_trace_of_the_last_ones_givers(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
) -> None:
    page = phone_page
    base, token, stand, url = stand_on_phone(
        demo_site, follower, page, "Piazza del Comune", "bruno@example.org"
    )
    assert wait_until(lambda: kept_by_the_worker(page))
    log_named_giver(page, "Dario", "Neri", "15")
    page.locator("#plus-one").tap()
    expect(page.locator("#queue-text")).to_have_text("Tutto registrato", timeout=15_000)
    expect(page.locator("#named-entries li")).to_have_text(["Dario Neri · € 15,00 — registrato"])
    assert "Neri" in stored(page)

    sign_out(page)
    page.wait_for_url(base + "/")
    assert "fondo-" not in stored(page)
    assert urlparse(url).path not in kept_pages(page)

    page.goto(url)  # the next volunteer, on the same phone
    sign_in_as(page, "bruno@example.org")
    page.wait_for_selector("#plus-one")
    page.click("text=Donatore con contatto")
    expect(page.locator("#givers")).to_have_text("2")
    assert page.locator("#named-count").inner_text() == "1"
    expect(page.locator("#named-entries li")).to_have_count(0)
    assert "Neri" not in page.content() and "Dario" not in page.content()
    assert "Neri" not in stored(page) and "anna@example.org" not in stored(page)
    assert api(base, token, stand)["named"] == 1


@pytest.mark.browser
@pytest.mark.slow
def test_signing_out_offline_holds_back_until_the_queue_is_sent(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
) -> None:
    page = phone_page
    base, token, stand, url = stand_on_phone(
        demo_site, follower, page, "Piazza Duomo", "bruno@example.org"
    )
    page.context.set_offline(True)
    for _ in range(2):
        page.locator("#plus-one").tap()
    log_named_giver(page, "Dario", "Neri", "15")
    expect(page.locator("#pending")).to_have_text("3")

    sign_out(page)
    held = page.locator("#sign-out-held")
    expect(held).to_be_visible()
    expect(held).to_contain_text(
        "3 voci registrate da te su questo telefono non sono ancora arrivate al server"
    )
    expect(held.locator(".held-leave")).to_have_text("Esci comunque: 3 voci perse")
    assert page.url == url and page.locator("#pending").inner_text() == "3"
    assert api(base, token, stand)["givers"] == 0

    page.context.set_offline(False)  # the queue goes out, then the sign-out by itself
    page.wait_for_url(base + "/", timeout=20_000)
    state = api(base, token, stand)
    assert (state["tallied"], state["named"], state["named_cents"]) == (2, 1, 1500)
    assert "fondo-" not in stored(page)


def cookie_names(page: Any) -> set[str]:
    return {cookie["name"] for cookie in page.context.cookies()}


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("answer", ["no network", "a Wi-Fi login page", "nothing"])
def test_a_sign_out_the_server_never_hears_still_ends_the_session(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
    answer: str,
) -> None:
    """At a stand the phone may have no network, or a hotel's or a shop's Wi-Fi that answers
    with its own login page, or not at all: the session ends all the same, before the next
    volunteer picks the phone up."""
    page = phone_page
    base, _token, _stand, _url = stand_on_phone(
        demo_site, follower, page, "Piazza Stradivari", "bruno@example.org"
    )
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["session"]["httpOnly"] and not cookies["fondo_presence"]["httpOnly"]
    held: list[Any] = []

    def intercept(route: Any) -> None:
        if answer == "nothing":
            held.append(route)  # never answered
        else:
            route.fulfill(status=200, content_type="text/html", body="<h1>Wi-Fi gratis</h1>")

    if answer == "no network":
        page.context.set_offline(True)
    else:
        page.route("**/logout", intercept)
    sign_out(page)  # nothing waits on the phone: out at once, though the server cannot hear it
    if answer == "no network":
        assert wait_until(lambda: "fondo_presence" not in cookie_names(page))
        assert "session" in cookie_names(page)  # HttpOnly: the page cannot delete it
    else:
        # Within seconds, answered or not; the home page's request has ended the session.
        page.wait_for_url(base + "/", timeout=20_000)
        assert not {"fondo_presence", "session"} & cookie_names(page)

    page.context.set_offline(False)  # the next volunteer picks the phone up, online
    page.unroute("**/logout")
    page.goto(base + "/stands/")
    assert urlparse(page.url).path == "/login"
    assert "anna@example.org" not in page.content()


@pytest.mark.browser
@pytest.mark.slow
def test_a_queue_left_by_an_expired_session_is_never_sent_or_shown_as_the_next_volunteers(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    follower: Callable[[dict[str, str]], None],
    phone_page: Any,
) -> None:
    page = phone_page
    base, token, stand, url = stand_on_phone(
        demo_site, follower, page, "Piazza Marconi", "bruno@example.org"
    )
    page.context.set_offline(True)
    page.locator("#plus-one").tap()
    log_named_giver(page, "Dario", "Neri", "15")
    page.click("text=Conteggio e chiusura")
    page.fill("#count-form input[name=d1000]", "3")
    page.click("#count-form button[type=submit]")
    page.context.clear_cookies()  # Anna's session ends on the server, not by signing out
    page.context.set_offline(False)
    expect(page.locator("#queue-problem")).to_contain_text("Sessione scaduta: 3 in coda")

    page.goto(base + "/login")  # Bruno picks the phone up
    sign_in_as(page, "bruno@example.org")
    page.wait_for_url(base + "/")
    page.goto(url)
    # Anna's tap and giver are the stand's: sent, though not shown; her count waits for her.
    # Bruno's own tap goes after them: once it is in, all before it has been dealt with.
    page.locator("#plus-one").tap()
    assert wait_until(lambda: api(base, token, stand)["tallied"] == 2)
    state = api(base, token, stand)
    assert (state["named"], state["counts"]) == (1, [])
    assert queued(page) == ["/counts"]
    expect(page.locator("#givers")).to_have_text("3")
    expect(page.locator("#others-waiting")).to_contain_text("1 di un altro volontario")
    expect(page.locator("#counts li")).to_have_text(["anna@example.org: € 30,00 (in coda)"])
    assert page.locator("#pending").inner_text() == "0"
    page.click("text=Donatore con contatto")
    expect(page.locator("#named-entries li")).to_have_count(0)
    assert "Neri" not in page.content()

    sign_out(page)  # nothing of Bruno's waits: out at once
    page.wait_for_url(base + "/")
    assert "Neri" not in stored(page)
    assert "fondo-queue-" in stored(page)  # Anna's count, never dropped unasked
    page.goto(url)
    sign_in_as(page, "anna@example.org")
    page.wait_for_selector("#plus-one")
    expect(page.locator("#counts li")).to_have_text(["anna@example.org: € 30,00"], timeout=15_000)
    assert [c["counter"] for c in api(base, token, stand)["counts"]] == ["anna@example.org"]
