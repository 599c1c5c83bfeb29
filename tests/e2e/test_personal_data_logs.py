"""Personal data stays out of the logs: gunicorn's access log after a day of registry work."""

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

PASSWORD = "ufficio-fondazione"
# Two donors of the demo data, searched the ways staff type them: what is typed, what the
# results show, and every way the typed text could appear in a log line.
SEARCHES = {
    "simonebarbieri35@example.net": (
        "simonebarbieri35@example.net",
        ("simonebarbieri35", "simonebarbieri35%40example"),
    ),
    "(+39) 366 207 6513": (
        "simonebarbieri35@example.net",
        ("366 207 6513", "3662076513", "366+207+6513", "366%20207"),
    ),
    "CLMMRA43A53D150K": ("CLMMRA43A53D150K", ("CLMMRA43A53D150K",)),
    "340 449 9418": ("CLMMRA43A53D150K", ("340 449 9418", "3404499418", "340+449", "340%20449")),
}


class Browser:
    """A cookie-keeping HTTP client that fills in each form's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return str(response.read().decode())

    def post_form(self, path: str, fields: dict[str, str]) -> str:
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.get(path))
        assert token, f"no CSRF token on {path}"
        body = urllib.parse.urlencode({**fields, "csrf_token": token.group(1)}).encode()
        with self.opener.open(self.base + path, data=body, timeout=30) as response:
            return str(response.read().decode())


@pytest.mark.slow
def test_registry_searches_leave_no_personal_data_in_the_access_log(
    demo_site: Callable[[str, str, str], tuple[str, dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    access_log = tmp_path / "access.log"
    # gunicorn reads extra options from the environment: the production access-log format.
    monkeypatch.setenv("GUNICORN_CMD_ARGS", f"--access-logfile {access_log}")
    base, _env = demo_site("ufficio@example.org", "staff", PASSWORD)
    browser = Browser(base)
    browser.post_form("/login", {"email": "ufficio@example.org", "password": PASSWORD})
    donor_pages = set()
    for typed, (shown, _logged_forms) in SEARCHES.items():
        page = browser.post_form("/admin/registry", {"q": typed})
        found = re.findall(r'href="(/admin/registry/[0-9a-f-]{36})"', page)
        assert shown in page and len(found) == 1, typed
        donor_pages.update(found)
    assert len(donor_pages) == 2
    for donor_page in donor_pages:
        assert "Storia dei consensi" in browser.get(donor_page)
        browser.get(donor_page + "/access")

    # gunicorn writes an access line just after the answer has left: wait for the last one.
    deadline = time.monotonic() + 10
    while access_log.read_text().count("/access ") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert access_log.read_text().count("POST /admin/registry") == len(SEARCHES)
    # Every log of the run: the access log and gunicorn's own (errors, worker messages).
    logged = "".join(log.read_text() for log in tmp_path.glob("*.log"))
    assert "GET /admin/registry/" in logged
    assert logged.count("/access") == 2
    for _shown, forms in SEARCHES.values():
        for form in forms:
            assert form.lower() not in logged.lower(), form
    assert "barbieri" not in logged.lower() and "colombo" not in logged.lower()
