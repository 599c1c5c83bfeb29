"""The web side of the bounds: hostile text and numbers get a 4xx in the page's language, never a
500; a read model stopped at an event shows in /healthz and in the back office's banner."""

import uuid
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import OPENING, bearer, save_unprojectable_gift, start_campaigns
from web import store

controls = st.characters(categories=["Cc"])
plain = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=5)
PAGES = (
    "/admin/registry",
    "/admin/donations",
    "/admin/exports/donors.csv",
    "/stands/",
    "/",
    "/donate/",
    "/api/v1/campaigns/fare-legami-anni-2-3/progress",
)
fixture_settings = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def staff(office: Flask) -> FlaskClient:
    client = office.test_client()
    response = client.post(
        "/login", data={"email": "staff@example.org", "password": "una-password-lunga"}
    )
    assert response.status_code == 302
    return client


def test_a_nul_in_the_registry_search_is_a_422_in_the_page_language(staff: FlaskClient) -> None:
    italian = staff.get("/admin/registry?q=%00")
    assert italian.status_code == 422
    assert "contiene un carattere di controllo (U+0000)" in italian.get_data(as_text=True)
    english = staff.get("/admin/registry?q=Rossi%00&lang=en")
    assert english.status_code == 422
    assert "contains a control character (U+0000)" in english.get_data(as_text=True)


@fixture_settings
@given(st.sampled_from(PAGES), plain, controls, plain)
def test_any_control_character_in_a_query_parameter_is_refused(
    staff: FlaskClient, page: str, before: str, control: str, after: str
) -> None:
    response = staff.get(f"{page}?q={quote(before + control + after)}")
    assert response.status_code == 422
    assert f"U+{ord(control):04X}" in response.get_data(as_text=True)


@fixture_settings
@given(
    st.sampled_from(["reference", "first_name", "email", "amount"]),
    controls.filter(lambda c: c not in "\t\n\r"),
)
def test_any_control_character_in_a_form_field_is_refused(
    staff: FlaskClient, field: str, control: str
) -> None:
    form = {
        "reference": f"CRO-{uuid.uuid4().hex[:8]}",
        "value_date": "2016-09-01",
        "campaign": "fare-legami-anni-2-3",
        "amount": "10,00",
        "first_name": "Anna",
        "email": "anna@example.org",
    }
    form[field] = form[field][:2] + control + form[field][2:]
    response = staff.post("/admin/donations/new", data=form)
    assert response.status_code == 422
    with staff.application.app_context():
        assert store().app.find_donation("bank:" + form["reference"].upper()) is None


def test_line_breaks_in_a_form_field_reach_the_domain_rules(staff: FlaskClient) -> None:
    """A textarea's CRLF passes the request guard; single-line fields are refused by the
    domain, with the field named."""
    response = staff.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-1",
            "value_date": "2016-09-01",
            "campaign": "fare-legami-anni-2-3",
            "amount": "10,00",
            "first_name": "An\r\nna",
        },
    )
    assert response.status_code == 422
    assert "U+000D" in response.get_data(as_text=True)


def test_a_control_character_in_the_path_is_refused(staff: FlaskClient) -> None:
    response = staff.get("/admin/registry/abc%00def")
    assert response.status_code == 422


def test_a_form_amount_above_the_maximum_is_a_field_error(staff: FlaskClient) -> None:
    response = staff.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-2",
            "value_date": "2016-09-01",
            "campaign": "fare-legami-anni-2-3",
            "amount": "92.233.720.368.547.758,08",
        },
    )
    assert response.status_code == 422
    assert "Al massimo € 1.000.000,00." in response.get_data(as_text=True)
    far = staff.post(
        "/admin/donations/new",
        data={
            "reference": "CRO-3",
            "value_date": "2999-09-01",
            "campaign": "fare-legami-anni-2-3",
            "amount": "10,00",
        },
    )
    assert far.status_code == 422 and "Le date vanno dal 01/01/2000" in far.get_data(as_text=True)


@pytest.mark.parametrize("amount", [1.5, "12", True, None, 2**63, 0, 100_000_001])
def test_amount_cents_must_be_a_json_integer_within_bounds(
    client: FlaskClient, amount: object
) -> None:
    with client.application.app_context():
        start_campaigns(store())
    headers = bearer(client, "volunteer")
    stand = client.post("/api/v1/stands", json=OPENING, headers=headers).get_json()["id"]
    for path, body in (
        (f"/api/v1/stands/{stand}/tallies", {"entry_id": str(uuid.uuid4())}),
        (
            f"/api/v1/stands/{stand}/named-gifts",
            {
                "entry_id": str(uuid.uuid4()),
                "first_name": "Anna",
                "last_name": "Neri",
                "email": "anna@example.org",
                "privacy_consent": True,
            },
        ),
    ):
        response = client.post(path, json={**body, "amount_cents": amount}, headers=headers)
        if amount is None and path.endswith("tallies"):
            assert response.status_code == 200  # a tap without an amount
            continue
        assert response.status_code == 422, response.get_json()
        assert "amount_cents" in str(response.get_json()["errors"])
    counts = client.post(
        f"/api/v1/stands/{stand}/counts",
        json={"denominations": {"100": "12"}},
        headers=headers,
    )
    assert counts.status_code == 422
    too_far = client.post("/api/v1/stands", json={**OPENING, "day": "2999-01-01"}, headers=headers)
    assert too_far.status_code == 422 and "day" in too_far.get_json()["errors"]


def test_a_stalled_read_model_shows_in_healthz_and_the_back_office_banner(
    office: Flask, staff: FlaskClient
) -> None:
    assert staff.get("/healthz").status_code == 200
    with office.app_context():
        position = save_unprojectable_gift(store())
    dashboard = staff.get("/admin/")
    assert dashboard.status_code == 200
    page = dashboard.get_data(as_text=True)
    assert f"il modello di lettura «campaign_totals» è fermo all&#39;evento {position}" in page
    assert f"ledger events set-aside {position}" in page
    assert f"stopped at event {position}" in staff.get("/admin/donations?lang=en").get_data(
        as_text=True
    )
    health = staff.get("/healthz")
    assert health.status_code == 503
    body = health.get_json()
    assert body["status"] == "stalled"
    assert [(s["name"], s["position"]) for s in body["stalled"]] == [("campaign_totals", position)]
    assert "OverflowError" in body["stalled"][0]["reason"] or (
        "out of range" in body["stalled"][0]["reason"]
    )
    # The public pages keep answering with the figures they have, without the banner.
    anonymous = office.test_client()
    home = anonymous.get("/")
    assert home.status_code == 200 and "campaign_totals" not in home.get_data(as_text=True)
    assert anonymous.get("/api/v1/campaigns/fare-legami-anni-2-3/progress").status_code == 200
    # The AdE file would leave gifts out: refused, saying why, until the event is set aside.
    filing = staff.get("/admin/receipts/agenzia-entrate/2016.txt")
    assert filing.status_code == 503
    assert f"ledger events set-aside {position}" in filing.get_data(as_text=True)
    with office.app_context():
        store().app.set_aside_event(position, "importo impossibile", "admin@example.org")
    assert staff.get("/admin/").status_code == 200
    assert staff.get("/healthz").status_code == 200


@pytest.mark.parametrize("field", ["place", "comune", "volunteers", "campaign"])
def test_a_stand_opening_with_a_control_character_is_a_field_error(
    client: FlaskClient, field: str
) -> None:
    with client.application.app_context():
        start_campaigns(store())
    headers = bearer(client, "volunteer")
    value = ["Anna", "Bru\x00no"] if field == "volunteers" else OPENING[field] + "\x1b[2J"
    response = client.post("/api/v1/stands", json={**OPENING, field: value}, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert "carattere di controllo" in str(response.get_json()["errors"][field])
