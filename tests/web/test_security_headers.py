"""Headers on every answer (framing, HSTS behind HTTPS, Allow on 405) and an OpenAPI that says
how each operation is opened and what it answers without credentials."""

import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from web import create_app

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def site_for(url: str, **config: object) -> Flask:
    return create_app({"TESTING": True, "SECRET_KEY": "t", "LEDGER_DATABASE_URL": url, **config})


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Flask]:
    app = site_for(sqlite_url)
    yield app
    app.extensions["ledger_store"].close()


def concrete(rule_path: str) -> str:
    return re.sub(
        r"<(?:[^:>]+:)?[^>]+>",
        lambda m: str(uuid.uuid4()) if m.group(0).startswith("<uuid") else "x",
        rule_path,
    )


def test_every_answer_forbids_framing_and_hsts_waits_for_https(sqlite_url: str) -> None:
    plain, https = site_for(sqlite_url), site_for(sqlite_url, LEDGER_HTTPS=True)
    try:
        for path in (
            "/",
            "/login",
            "/admin/",
            "/api/v1/campaigns/nessuna/progress",
            "/api/openapi.json",
            "/non-esiste",
            "/logout",
            "/webhooks/stripe",  # answered before Flask (a GET: 405)
        ):
            for app, hsts in ((plain, False), (https, True)):
                response = app.test_client().get(path)
                assert response.headers["X-Frame-Options"] == "DENY", path
                assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
                assert ("Strict-Transport-Security" in response.headers) is hsts, path
        assert https.test_client().get("/").headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains"
        )
    finally:
        plain.extensions["ledger_store"].close()
        https.extensions["ledger_store"].close()


def test_a_wrong_method_answers_405_with_the_allowed_ones(site: Flask) -> None:
    client = site.test_client()
    checked = 0
    for rule in site.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = concrete(rule.rule)
        # Every rule this path matches (`fundraising/x.x` is also a slug `x.x`) allows these.
        allowed = set(site.url_map.bind("localhost").allowed_methods(path))
        for method in METHODS:
            if method in allowed:
                continue
            response = client.open(path, method=method)
            assert response.status_code == 405, (method, path)
            assert set(response.headers["Allow"].split(", ")) == allowed, path
            checked += 1
    assert checked > 100


def test_the_openapi_declares_how_each_operation_is_opened(site: Flask) -> None:
    spec = site.test_client().get("/api/openapi.json").get_json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["cookieAuth"]["in"] == "cookie" and schemes["cookieAuth"]["name"] == "session"
    anonymous = site.test_client()
    operations = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            operations += 1
            responses = operation["responses"]
            if operation.get("requestBody") or any(
                p["in"] == "query" for p in operation.get("parameters", [])
            ):
                assert responses["422"] == {
                    "$ref": "#/components/responses/UNPROCESSABLE_ENTITY"
                }, (method, path)
            url = re.sub(r"\{[^}]+\}", lambda _m: str(uuid.uuid4()), path)
            answer = anonymous.open(url, method=method.upper(), json={})
            if operation["security"] == []:
                assert answer.status_code not in (401, 403), (method, path)
                continue
            assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
            assert responses["401"] == {"$ref": "#/components/responses/UNAUTHORIZED"}
            assert responses["403"] == {"$ref": "#/components/responses/FORBIDDEN"}
            assert answer.status_code == 401 and answer.is_json, (method, path)
    assert operations >= 8


def test_back_office_pages_and_exports_are_never_cached(office: Flask) -> None:
    client = office.test_client()
    client.post("/login", data={"email": "staff@example.org", "password": "una-password-lunga"})
    for path in ("/admin/", "/admin/exports/donors.csv", "/stands/reconciliation"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
