"""Sign-in and the authorisation matrix: every route × every role, personal data kept in."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import UUIDConverter

from tests.helpers import start_campaigns
from web import create_app, store

ROLES = ("volunteer", "staff", "admin")
PASSWORD = "una-password-lunga"
PERSONAL = ("/admin/registry", "/admin/exports", "/admin/donations", "/admin/audit")


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": sqlite_url,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        start_campaigns(store())
        for role in ROLES:
            store().app.add_user(f"{role}@example.org", role, PASSWORD)
    yield app
    app.extensions["ledger_store"].close()


def client_for(app: Flask, role: str | None) -> FlaskClient:
    client = app.test_client()
    if role:
        assert (
            client.post(
                "/login", data={"email": f"{role}@example.org", "password": PASSWORD}
            ).status_code
            == 302
        )
    return client


def access_mark(app: Flask, endpoint: str, method: str) -> tuple[str, ...] | None:
    if endpoint == "static" or endpoint.startswith("api-docs"):
        return ("public",)
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    function = getattr(view_class, method.lower(), None) if view_class else view
    return getattr(function, "access", None)


def routes(app: Flask) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        values: dict[str, Any] = {}
        for name in rule.arguments:
            converter = rule._converters[name]  # noqa: SLF001 - werkzeug has no public getter
            values[name] = uuid.uuid4() if isinstance(converter, UUIDConverter) else "x"
        if rule.endpoint == "admin.export":
            values = {"kind": "donors", "fmt": "csv"}
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def test_every_route_is_marked_and_personal_data_stays_with_staff(site: Flask) -> None:
    unmarked = []
    for endpoint, method, url in routes(site):
        mark = access_mark(site, endpoint, method)
        if mark is None:
            unmarked.append(f"{method} {url}")
        elif url.startswith(PERSONAL):
            assert set(mark) <= {"admin", "staff"}, (url, mark)
    assert not unmarked, f"routes without an access mark: {unmarked}"


def test_authorisation_matrix(site: Flask) -> None:
    clients = {role: client_for(site, role) for role in (None, *ROLES)}
    checked = 0
    for endpoint, method, url in routes(site):
        mark = access_mark(site, endpoint, method) or ()
        for role, client in clients.items():
            if endpoint == "auth.logout":
                continue  # signs the shared client out; tested on its own below
            response = client.open(url, method=method, json={} if "/api/" in url else None)
            response.get_data()  # run streamed bodies to the end, and let their context go
            response.close()
            status = response.status_code
            if "public" in mark or role in mark:
                assert status not in (401, 403), (role, method, url, status)
            elif role is None:
                denied = status == 401 or (
                    status == 302 and "/login" in response.headers["Location"]
                )
                assert denied, (role, method, url, status)
            else:
                assert status == 403, (role, method, url, status)
            if role in (None, "volunteer") and url.startswith(PERSONAL):
                assert status in (302, 401, 403)
            checked += 1
    assert checked > 100


def test_api_without_credentials_is_401_json_and_wrong_role_403(site: Flask) -> None:
    anonymous = site.test_client().get(f"/api/v1/stands/{uuid.uuid4()}")
    assert anonymous.status_code == 401 and anonymous.is_json
    with site.app_context():
        token = store().app.issue_token("volunteer@example.org")
    wrong = site.test_client().get(
        "/admin/exports/donors.csv", headers={"Authorization": f"Bearer {token}"}
    )
    assert wrong.status_code == 403


def test_failed_sign_ins_are_rate_limited(site: Flask) -> None:
    client = site.test_client()
    for _ in range(5):
        response = client.post(
            "/login", data={"email": "staff@example.org", "password": "sbagliata-sbagliata"}
        )
        assert response.status_code == 401
    blocked = client.post("/login", data={"email": "staff@example.org", "password": PASSWORD})
    assert blocked.status_code == 429 and "Troppi tentativi" in blocked.get_data(as_text=True)
    other = client.post("/login", data={"email": "admin@example.org", "password": PASSWORD})
    assert other.status_code == 302  # another account is not locked out


def test_session_cookie_is_http_only_and_same_site(site: Flask) -> None:
    response = site.test_client().post(
        "/login", data={"email": "staff@example.org", "password": PASSWORD}
    )
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_needs_a_post_with_csrf(site: Flask) -> None:
    site.config["WTF_CSRF_ENABLED"] = True
    client = site.test_client()
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token


def test_next_never_leaves_the_site(site: Flask) -> None:
    response = site.test_client().post(
        "/login?next=//evil.example/", data={"email": "staff@example.org", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_every_form_post_without_a_csrf_token_is_refused(site: Flask) -> None:
    client = client_for(site, "admin")
    site.config["WTF_CSRF_ENABLED"] = True
    refused = []
    for endpoint, method, url in routes(site):
        if method != "POST" or endpoint.startswith("webhooks."):
            continue  # Stripe signs its webhooks instead
        response = client.post(url, data={"reason": "prova"})
        refused.append((url, response.status_code))
    assert len(refused) >= 10 and all(status == 400 for _url, status in refused), refused


def test_a_volunteer_token_opens_no_personal_data(site: Flask) -> None:
    with site.app_context():
        token = store().app.issue_token("volunteer@example.org")
    client = site.test_client()
    personal = [
        (method, url) for _endpoint, method, url in routes(site) if url.startswith(PERSONAL)
    ]
    statuses = {
        (method, url): client.open(
            url, method=method, headers={"Authorization": f"Bearer {token}"}
        ).status_code
        for method, url in personal
    }
    assert len(statuses) >= 15 and set(statuses.values()) == {403}, statuses


def test_a_token_alone_decides_even_beside_a_session_cookie(site: Flask) -> None:
    with site.app_context():
        token = store().app.issue_token("volunteer@example.org")
    staff = client_for(site, "staff")
    assert staff.get("/admin/registry").status_code == 200
    bearer = {"Authorization": f"Bearer {token}"}
    assert staff.get("/admin/registry", headers=bearer).status_code == 403
    wrong = {"Authorization": "Bearer fondo_nobody_nothing"}
    assert staff.get("/admin/registry", headers=wrong).status_code in (302, 401)
    assert staff.get("/admin/registry").status_code == 200  # the session itself is untouched
