"""The back office in a real Chromium: sign in, the dashboard's chart, a search, an export."""

import csv
import io
from collections.abc import Callable
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
