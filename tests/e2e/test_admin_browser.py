"""The back office in a real Chromium: sign in, the dashboard's chart, a search, an export."""

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "ufficio-fondazione"


@pytest.mark.browser
@pytest.mark.slow
def test_staff_day_in_the_back_office(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]], page: Any, tmp_path: Path
) -> None:
    base, _env = demo_site("ufficio@example.org", "staff", PASSWORD)

    page.goto(base + "/admin/")
    page.fill("input[name=email]", "ufficio@example.org")
    page.fill("input[name=password]", "sbagliata-davvero")
    page.click("button[type=submit]")
    assert "non corretti" in page.content()
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/admin/")
    chart = page.locator('[data-campaign="fare-legami-anno-1"] svg.chart').first
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert page.locator("polyline.raised").count() >= 1
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 30_000

    page.click("text=Anagrafica")
    page.fill("input[name=q]", "(+39) 366 207 6513")
    page.click("button:has-text('Cerca')")
    rows = page.locator("table.donors tr")
    assert rows.count() == 2  # header and the one donor
    assert "simonebarbieri35@example.net" in rows.nth(1).inner_text()

    page.click("text=Esportazioni")
    with page.expect_download() as download_info:
        page.locator("button.export-donors-csv").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.name.endswith(".csv")
    data = saved.read_bytes()
    assert data.startswith("\ufeff".encode())
    rows_csv = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows_csv) == 324 + 1

    page.goto(base + "/admin/audit")
    assert "Esportazione donatori (CSV)" in page.content()


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_fits_a_phone(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    phone_page: Any,
    tmp_path: Path,
) -> None:
    base, _env = demo_site("ufficio@example.org", "admin", PASSWORD)
    phone_page.goto(base + "/admin/")
    phone_page.fill("input[name=email]", "ufficio@example.org")
    phone_page.fill("input[name=password]", PASSWORD)
    phone_page.click("button[type=submit]")
    phone_page.wait_for_url(base + "/admin/")
    chart = phone_page.locator('[data-campaign="fare-legami-anno-1"] svg.chart').first
    box = chart.bounding_box()
    assert box is not None and 300 < box["width"] <= 390 and box["height"] > 100
    overflow = phone_page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0  # the page never scrolls sideways on a phone
    phone_page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)


def _fresh(page: Any, url: str, selector: str, tries: int = 40) -> Any:
    """Load `url` until `selector` is there: pages read what the follower has applied, a
    moment after the click that recorded it."""
    for _ in range(tries):
        page.goto(url)
        if page.locator(selector).count():
            return page.locator(selector)
        page.wait_for_timeout(250)
    pytest.fail(f"{selector} never appeared on {url}")


@pytest.fixture
def desktop(chromium_browser: Any) -> Iterator[Any]:
    context = chromium_browser.new_context(locale="it-IT", viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_staff_merge_page_transfer_and_errors_on_a_desktop(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    desktop: Any,
    tmp_path: Path,
) -> None:
    page = desktop
    base, _env = demo_site("ufficio@example.org", "staff", PASSWORD)
    page.goto(base + "/admin/donations")
    page.fill("input[name=email]", "ufficio@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/admin/donations")

    # 9. The donations list: count and total, names and Italian words, pages that go on.
    assert page.locator("strong.count").inner_text() == "520"
    assert page.locator("strong.total").inner_text().startswith("€ ")
    first_rows = page.locator("table.gifts tr").count()
    assert first_rows == 51  # header and a page of 50
    assert page.locator("table.gifts td.status-confirmed").first.inner_text() == "confermata"
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    page.screenshot(path=str(tmp_path / "donations.png"), full_page=True)
    page.click("a.next-page")
    assert "after=" in page.url and page.locator("table.gifts tr").count() == 51

    # 10. Duplicates: two donors side by side, choose who stays, confirm, then undo.
    page.goto(base + "/admin/registry/duplicates")
    page.locator("a.compare").first.click()
    sides = page.locator("section.merge-side")
    assert sides.count() == 2
    left, right = sides.nth(0).bounding_box(), sides.nth(1).bounding_box()
    assert left is not None and right is not None
    assert abs(left["y"] - right["y"]) < 2 and left["x"] + left["width"] <= right["x"]
    assert left["width"] > 400 and right["width"] > 400
    shot = tmp_path / "merge.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 30_000
    assert page.locator("input[type=text]").count() == 0  # nobody types an id
    survivor = sides.nth(1).get_attribute("data-donor")
    sides.nth(1).locator("input[name=survivor]").check()
    page.click("button.confirm-merge")
    page.wait_for_url(base + f"/admin/registry/{survivor}")
    undo = _fresh(page, base + f"/admin/registry/{survivor}", "button.undo-merge")
    undo.first.click()
    assert "Unione annullata" in page.locator(".flash").first.inner_text()

    # 12. A transfer for a donor found by search, nothing retyped.
    page.goto(base + "/admin/donations/new")
    page.fill("input[name=reference]", "CRO-E2E-1")
    page.fill("input[name=amount]", "30,00")
    page.fill("input[name=find]", "Colombo")
    page.click("button[value=find]")
    page.locator("button.choose-donor").first.click()
    assert page.locator(".chosen-donor").is_visible()
    assert page.locator("input[name=email]").count() == 0
    assert page.locator("input[name=reference]").input_value() == "CRO-E2E-1"
    page.click("button[value=record]")
    assert "Bonifico registrato" in page.locator(".flash").first.inner_text()

    # 11. A refused refund stays on the form, the reason right under its field.
    page.locator("details.panel summary").first.click()
    page.fill("form.refund-form input[name=reason]", "doppio addebito")
    page.click("form.refund-form button[type=submit]")
    amount = page.locator("form.refund-form input[name=amount]").bounding_box()
    error = page.locator("form.refund-form .field-error").first
    assert error.inner_text() == "Campo obbligatorio."
    box = error.bounding_box()
    assert amount is not None and box is not None
    assert 0 <= box["y"] - (amount["y"] + amount["height"]) < 40
    assert page.locator("form.refund-form input[name=reason]").input_value() == "doppio addebito"
    page.screenshot(path=str(tmp_path / "refund-error.png"), full_page=True)

    # 14. The audit trail: local Italian times and actions by name, merges included.
    audit = _fresh(page, base + "/admin/audit", "tr.audit-unmerge")
    assert audit.count() == 1
    assert "Unione di donatori" in page.content()
    when = page.locator("td.when").first.inner_text()
    assert len(when) == 16 and when[2] == "/" and when[5] == "/" and when[13] == ":"
