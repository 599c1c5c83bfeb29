"""The public page and the progress API on a freshly imported year 1."""

import json

from flask.testing import FlaskClient

from ledger.csv_import import import_donations
from tests.helpers import YEAR1
from web import store
from web.cli import DEMO_CAMPAIGNS


def _load_year1(client: FlaskClient) -> None:
    with client.application.app_context():
        ledger_store = store()
        for slug, name, target, starts, ends in DEMO_CAMPAIGNS:
            ledger_store.app.start_campaign(slug, name, target, starts, ends)
        assert import_donations(ledger_store.app, YEAR1 / "donations.csv").ok
        ledger_store.runner.catch_up()


def test_home_page_shows_year1_figures_in_italian(client: FlaskClient) -> None:
    _load_year1(client)
    page = client.get("/").get_data(as_text=True)
    assert "€ 42.708,00" in page
    assert "2.289" in page and ">324<" in page
    assert "€ 336.000,00" in page


def test_home_page_in_english_on_request(client: FlaskClient) -> None:
    _load_year1(client)
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "€42,708.00" in page and "Donors" in page


def test_progress_api_returns_the_design_keys(client: FlaskClient) -> None:
    _load_year1(client)
    expected = json.loads((YEAR1 / "expected.json").read_text())["campaigns"]
    body = client.get("/api/v1/campaigns/fare-legami-anno-1/progress").get_json()
    for key in (
        "campaign",
        "name",
        "target_cents",
        "raised_cents",
        "refunded_cents",
        "fees_cents",
        "net_cents",
        "donors",
        "gifts",
        "contacts",
        "progress",
        "as_of",
    ):
        assert key in body
    year1 = expected["fare-legami-anno-1"]
    assert (body["raised_cents"], body["donors"], body["contacts"], body["gifts"]) == (
        year1["raised_cents"],
        year1["donors"],
        year1["contacts"],
        year1["gifts"],
    )


def test_progress_api_as_of_counts_only_earlier_value_dates(client: FlaskClient) -> None:
    _load_year1(client)
    before = client.get("/api/v1/campaigns/fare-legami-anno-1/progress?as_of=2015-06-30")
    assert before.status_code == 200
    assert (before.get_json()["raised_cents"], before.get_json()["donors"]) == (0, 0)


def test_unknown_campaign_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/campaigns/no-such-campaign/progress")
    assert response.status_code == 404
    assert response.is_json and "no-such-campaign" in response.get_json()["message"]


def test_bad_as_of_is_a_422_with_the_field(client: FlaskClient) -> None:
    response = client.get("/api/v1/campaigns/fare-legami-anno-1/progress?as_of=ieri")
    assert response.status_code == 422
    assert "as_of" in json.dumps(response.get_json())


def test_openapi_document_lists_the_progress_endpoint(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/campaigns/{slug}/progress" in spec["paths"]
