"""The stands API: contracts of DESIGN.md, 422 field errors, 409 conflicts, roles."""

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ledger.dates import today
from tests.helpers import OPENING, bearer, start_campaigns
from web import store


@pytest.fixture
def volunteer(client: FlaskClient) -> dict[str, str]:
    with client.application.app_context():
        start_campaigns(store())
    return bearer(client, "volunteer")


def opened(client: FlaskClient, headers: dict[str, str]) -> str:
    response = client.post("/api/v1/stands", json=OPENING, headers=headers)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def progress(client: FlaskClient) -> dict[str, Any]:
    with client.application.app_context():
        store().runner.catch_up()
    return dict(client.get("/api/v1/campaigns/fare-legami-anni-2-3/progress").get_json())


def test_whole_day_through_the_api(client: FlaskClient, volunteer: dict[str, str]) -> None:
    stand = opened(client, volunteer)
    assert opened(client, volunteer) == stand  # a resent opening is the same stand
    taps = [str(uuid.uuid4()) for _ in range(57)]
    for tap in taps + taps[:5]:  # five taps resent
        assert (
            client.post(
                f"/api/v1/stands/{stand}/tallies", json={"entry_id": tap}, headers=volunteer
            ).status_code
            == 200
        )
    extra = str(uuid.uuid4())
    client.post(
        f"/api/v1/stands/{stand}/tallies",
        json={"entry_id": extra, "amount_cents": 200},
        headers=volunteer,
    )
    undone = client.post(
        f"/api/v1/stands/{stand}/tallies/undo", json={"entry_id": extra}, headers=volunteer
    ).get_json()
    assert undone["tallied"] == 57
    for index, amount in enumerate((2000, 1500, 500)):
        response = client.post(
            f"/api/v1/stands/{stand}/named-gifts",
            headers=volunteer,
            json={
                "entry_id": str(uuid.uuid4()),
                "first_name": "Nome",
                "last_name": f"Cognome{index}",
                "phone": f"+39 333 000 00{index}{index}",
                "amount_cents": amount,
                "privacy_consent": True,
                "marketing_consent": index == 0,
            },
        )
        assert response.status_code == 200, response.get_json()
    coins = {"5000": 4, "1000": 5, "200": 3, "1": 7}  # 25,607 cents
    for counter in (volunteer, bearer(client, "volunteer")):  # two accounts count
        assert (
            client.post(
                f"/api/v1/stands/{stand}/counts", headers=counter, json={"denominations": coins}
            ).status_code
            == 200
        )
    closed = client.post(f"/api/v1/stands/{stand}/close", headers=volunteer)
    assert closed.status_code == 200
    assert closed.get_json()["closing"] == {
        "counted_cents": 25607,
        "named_cents": 4000,
        "anonymous_cents": 21607,
        "tallied": 57,
        "named": 3,
    }
    again = client.post(f"/api/v1/stands/{stand}/close", headers=volunteer)
    assert again.status_code == 409 and again.get_json()["state"]["status"] == "closed"
    figures = progress(client)
    assert (figures["donors"], figures["contacts"], figures["raised_cents"]) == (60, 3, 25607)
    state = client.get(f"/api/v1/stands/{stand}", headers=volunteer).get_json()
    assert state["status"] == "closed" and state["tallied"] == 57


def test_different_counts_are_409_with_the_difference(
    client: FlaskClient, volunteer: dict[str, str]
) -> None:
    stand = opened(client, volunteer)
    client.post(
        f"/api/v1/stands/{stand}/counts", headers=volunteer, json={"denominations": {"1000": 2}}
    )
    client.post(
        f"/api/v1/stands/{stand}/counts",
        headers=bearer(client, "volunteer"),
        json={"denominations": {"1000": 1, "500": 1}},
    )
    response = client.post(f"/api/v1/stands/{stand}/close", headers=volunteer)
    body = response.get_json()
    assert response.status_code == 409 and body["state"]["status"] == "open"
    assert body["message"] == (
        "I due conteggi non coincidono: € 20,00 e € 15,00, differenza € 5,00. Uno dei due riconti."
    )
    english = client.post(f"/api/v1/stands/{stand}/close?lang=en", headers=volunteer)
    assert english.get_json()["message"] == (
        "The two counts differ: €20.00 and €15.00, a difference of €5.00. "
        "One of you should count again."
    )


def test_the_counter_is_the_account_and_a_recount_replaces_its_own_count(
    client: FlaskClient, volunteer: dict[str, str]
) -> None:
    stand = opened(client, volunteer)
    counts = f"/api/v1/stands/{stand}/counts"
    entry = str(uuid.uuid4())
    first = {"entry_id": entry, "denominations": {"1000": 2}}
    for _ in range(2):  # a resend of the same entry is a no-op
        assert client.post(counts, headers=volunteer, json=first).status_code == 200
    second = client.post(counts, headers=volunteer, json={"denominations": {"1000": 2}})
    assert second.status_code == 409
    assert second.get_json()["message"].startswith("Hai già contato: il secondo conteggio")
    closing = client.post(f"/api/v1/stands/{stand}/close", headers=volunteer).get_json()
    assert closing["message"].startswith("Servono i conteggi di due volontari diversi")
    free_text = client.post(
        counts, headers=volunteer, json={"counter": "Bruno", "denominations": {"1000": 2}}
    )
    assert free_text.status_code == 422  # who counted is the account, never a typed name
    recount = {"entry_id": str(uuid.uuid4()), "recount": True, "denominations": {"2000": 1}}
    state = client.post(counts, headers=volunteer, json=recount).get_json()
    assert [(c["total_cents"], c["replaced"]) for c in state["counts"]] == [
        (2000, True),
        (2000, False),
    ]
    assert {c["counter"] for c in state["counts"]} == {state["counts"][0]["counter"]}
    assert "@example.org" in state["counts"][0]["counter"]
    other = bearer(client, "volunteer")
    client.post(counts, headers=other, json={"denominations": {"500": 4}})
    closed = client.post(f"/api/v1/stands/{stand}/close", headers=volunteer)
    assert closed.status_code == 200 and closed.get_json()["closing"]["counted_cents"] == 2000


def test_stand_messages_are_in_the_page_language_with_fields_and_euro(
    client: FlaskClient, volunteer: dict[str, str]
) -> None:
    stand = opened(client, volunteer)
    gift = {
        "entry_id": str(uuid.uuid4()),
        "first_name": "Carla",
        "last_name": "Verdi",
        "email": "carla@",
        "phone": "12",
        "tax_code": "RSSMRA80A01D150X",
        "amount_cents": 500,
        "privacy_consent": True,
    }
    refused = client.post(f"/api/v1/stands/{stand}/named-gifts", headers=volunteer, json=gift)
    body = refused.get_json()
    assert refused.status_code == 422
    assert body["errors"] == {
        "email": ["Indirizzo e-mail non valido (es. nome@esempio.it)."],
        "phone": ["Numero di telefono non valido."],
        "tax_code": ["Codice fiscale non valido: 16 caratteri, controlla lettere e cifre."],
    }
    nothing = {**gift, "email": "", "phone": "", "tax_code": ""}
    no_contact = client.post(
        f"/api/v1/stands/{stand}/named-gifts?lang=en", headers=volunteer, json=nothing
    ).get_json()
    assert no_contact["errors"] == {
        "contact": ["At least one contact is needed: e-mail, phone or codice fiscale."]
    }
    too_much = client.post(
        f"/api/v1/stands/{stand}/named-gifts?lang=it",
        headers=volunteer,
        json={**gift, "email": "carla@example.org", "phone": "", "tax_code": "", "amount_cents": 0},
    ).get_json()
    assert too_much["errors"]["amount_cents"] == ["Importo non valido: da € 0,01 a € 1.000.000,00."]
    assert "cent" not in too_much["message"]
    for counter in (volunteer, bearer(client, "volunteer")):
        client.post(
            f"/api/v1/stands/{stand}/counts", headers=counter, json={"denominations": {"500": 1}}
        )
    client.post(f"/api/v1/stands/{stand}/close", headers=volunteer)
    late = client.post(
        f"/api/v1/stands/{stand}/tallies", headers=volunteer, json={"entry_id": str(uuid.uuid4())}
    )
    assert late.status_code == 409
    assert late.get_json()["message"] == "Il banchetto è chiuso: non si registra più nulla."


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("", {**OPENING, "district": "Milano"}, "district"),
        ("", {**OPENING, "day": "ieri"}, "day"),
        ("", {**OPENING, "volunteers": []}, "volunteers"),
        ("/tallies", {"entry_id": "not-a-uuid"}, "entry_id"),
        ("/tallies", {"entry_id": str(uuid.uuid4()), "amount_cents": -5}, "amount_cents"),
        ("/counts", {"denominations": {"300": 1}}, "denominations"),
        ("/counts", {"denominations": {"100": -1}}, "denominations"),
        (
            "/named-gifts",
            {
                "entry_id": str(uuid.uuid4()),
                "first_name": "A",
                "last_name": "B",
                "email": "a@example.org",
                "amount_cents": 500,
                "privacy_consent": False,
            },
            "privacy_consent",
        ),
        (
            "/named-gifts",
            {
                "entry_id": str(uuid.uuid4()),
                "first_name": "A",
                "last_name": "B",
                "tax_code": "RSSMRA80A01D150X",
                "amount_cents": 500,
                "privacy_consent": True,
            },
            "tax_code",
        ),
    ],
)
def test_invalid_input_is_422_with_the_field(
    client: FlaskClient, volunteer: dict[str, str], path: str, payload: dict[str, Any], field: str
) -> None:
    stand = opened(client, volunteer)
    url = "/api/v1/stands" + (f"/{stand}{path}" if path else "")
    response = client.post(url, json=payload, headers=volunteer)
    assert response.status_code == 422, response.get_json()
    assert field in str(response.get_json())


def test_unknown_stand_or_tap_is_404(client: FlaskClient, volunteer: dict[str, str]) -> None:
    assert client.get(f"/api/v1/stands/{uuid.uuid4()}", headers=volunteer).status_code == 404
    stand = opened(client, volunteer)
    response = client.post(
        f"/api/v1/stands/{stand}/tallies/undo",
        headers=volunteer,
        json={"entry_id": str(uuid.uuid4())},
    )
    assert response.status_code == 404


def test_anonymous_is_401_and_session_posts_need_csrf(
    client: FlaskClient, volunteer: dict[str, str]
) -> None:
    assert client.post("/api/v1/stands", json=OPENING).status_code == 401
    with client.application.app_context():
        store().app.add_user("vol@example.org", "volunteer", "una-password-lunga")
    client.application.config["WTF_CSRF_ENABLED"] = False
    login = client.post(
        "/login", data={"email": "vol@example.org", "password": "una-password-lunga"}
    )
    assert login.status_code == 302, login.get_data(as_text=True)[-500:]
    client.application.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/api/v1/stands", json=OPENING)
    assert response.status_code == 400 and "CSRF" in response.get_json()["message"]


def test_stands_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/stands",
        "/api/v1/stands/{stand_id}/tallies",
        "/api/v1/stands/{stand_id}/tallies/undo",
        "/api/v1/stands/{stand_id}/close",
        "/api/v1/stands/{stand_id}/named-gifts",
        "/api/v1/stands/{stand_id}/counts",
    ):
        assert path in paths


def signed_in(client: FlaskClient, role: str) -> FlaskClient:
    with client.application.app_context():
        store().app.add_user(f"{role}@example.org", role, "una-password-lunga")
    client.application.config["WTF_CSRF_ENABLED"] = False
    client.post("/login", data={"email": f"{role}@example.org", "password": "una-password-lunga"})
    return client


def test_pages_render_for_a_volunteer(client: FlaskClient, volunteer: dict[str, str]) -> None:
    stand = opened(client, volunteer)
    signed_in(client, "volunteer")
    listing = client.get("/stands/")
    assert listing.status_code == 200 and "Piazza Duomo" in listing.get_data(as_text=True)
    page = client.get(f"/stands/{stand}").get_data(as_text=True)
    assert 'id="plus-one"' in page and "stands.js" in page
    assert client.get("/stands/reconciliation").status_code == 403


def test_staff_record_a_deposit_on_the_reconciliation_page(
    client: FlaskClient, volunteer: dict[str, str]
) -> None:
    stand = opened(client, volunteer)
    client.post(
        f"/api/v1/stands/{stand}/tallies", json={"entry_id": str(uuid.uuid4())}, headers=volunteer
    )
    for counter in (volunteer, bearer(client, "volunteer")):
        client.post(
            f"/api/v1/stands/{stand}/counts", headers=counter, json={"denominations": {"1000": 3}}
        )
    client.post(f"/api/v1/stands/{stand}/close", headers=volunteer)
    signed_in(client, "staff")
    before = client.get("/stands/reconciliation").get_data(as_text=True)
    assert "da versare" in before and "€ 30,00" in before
    bad = client.post(
        "/stands/reconciliation",
        data={"reference": "CRO1", "amount": "dieci", "day": "2016-09-11", "stands": [stand]},
    )
    assert bad.status_code == 422 and "non è un importo" in bad.get_data(as_text=True)
    for amount in ("-5", "1e9", "10000000000"):
        refused = client.post(
            "/stands/reconciliation",
            data={"reference": "CRO1", "amount": amount, "day": "2016-09-11", "stands": [stand]},
        )
        text = refused.get_data(as_text=True)
        # On the form, beside the amount, with what was typed kept.
        assert refused.status_code == 422 and 'value="CRO1"' in text, amount
        assert text.count('class="field-error"') == 1, amount
    done = client.post(
        "/stands/reconciliation",
        data={"reference": "CRO1", "amount": "29,50", "day": "2016-09-11", "stands": [stand]},
        follow_redirects=True,
    )
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and "CRO1" in page and "-€ 0,50" in page


@pytest.mark.parametrize(
    ("campaign", "day", "message"),
    [
        ("fare-legami-anni-2-3", "2018-07-01", "è finita il 30/06/2018"),
        ("fare-legami-anni-2-3", "2016-06-30", "inizia il 01/07/2016"),
        ("fare-legami-anno-1", "2016-09-10", "è finita il 31/05/2016"),
    ],
)
def test_a_stand_outside_its_campaign_is_422_on_the_campaign(
    client: FlaskClient, volunteer: dict[str, str], campaign: str, day: str, message: str
) -> None:
    response = client.post(
        "/api/v1/stands", headers=volunteer, json={**OPENING, "campaign": campaign, "day": day}
    )
    assert response.status_code == 422, response.get_json()
    assert message in response.get_json()["errors"]["campaign"][0]


def test_a_campaign_ended_early_takes_no_stand_after_its_end(
    client: FlaskClient, volunteer: dict[str, str]
) -> None:
    with client.application.app_context():
        store().app.end_campaign("fare-legami-anni-2-3", date(2017, 1, 31))
    late = client.post("/api/v1/stands", headers=volunteer, json={**OPENING, "day": "2017-02-01"})
    assert late.status_code == 422 and "31/01/2017" in str(late.get_json()["errors"])
    last = client.post("/api/v1/stands", headers=volunteer, json={**OPENING, "day": "2017-01-31"})
    assert last.status_code == 201


def test_the_open_stand_page_offers_only_campaigns_running_today(
    client: FlaskClient, volunteer: dict[str, str]
) -> None:
    with client.application.app_context():
        store().app.start_campaign("in-piazza-oggi", "In piazza oggi", 100_000, None, today())
        store().runner.catch_up()
    page = signed_in(client, "volunteer").get("/stands/").get_data(as_text=True)
    assert 'value="in-piazza-oggi"' in page
    assert 'value="fare-legami-anni-2-3"' not in page and 'value="fare-legami-anno-1"' not in page
    refused = client.post(
        "/stands/",
        data={
            "campaign": "fare-legami-anni-2-3",
            "place": "Piazza Roma",
            "comune": "Crema",
            "district": "Crema",
            "day": today().isoformat(),
            "volunteers": "Anna",
        },
    )
    assert refused.status_code == 422
    assert "non raccoglie più donazioni" in refused.get_data(as_text=True)


def test_a_stand_page_renews_its_csrf_token_while_signed_in(
    client: FlaskClient, volunteer: dict[str, str]
) -> None:
    json_only = {"Accept": "application/json"}
    assert client.get("/stands/csrf-token", headers=json_only).status_code == 401
    signed_in(client, "volunteer")
    client.application.config["WTF_CSRF_ENABLED"] = True
    stale = client.post("/api/v1/stands", json=OPENING, headers={"X-CSRFToken": "stale"})
    assert stale.status_code == 400
    fresh = client.get("/stands/csrf-token", headers=json_only).get_json()["csrf_token"]
    renewed = client.post("/api/v1/stands", json=OPENING, headers={"X-CSRFToken": fresh})
    assert renewed.status_code == 201 and renewed.get_json()["place"] == "Piazza Duomo"


def test_the_service_worker_covers_the_stand_pages_and_is_renamed_with_its_files(
    client: FlaskClient, tmp_path: Any
) -> None:
    worker = client.get("/stands/sw.js")  # no sign-in: a phone updates it whenever it can
    assert worker.status_code == 200
    assert worker.headers["Service-Worker-Allowed"] == "/stands/"
    assert worker.headers["Cache-Control"] == "no-cache"
    assert worker.mimetype == "text/javascript"
    text = worker.get_data(as_text=True)
    assert '"/static/stands.js"' in text and '"/static/style.css"' in text
    cache = text.split('var CACHE = "', 1)[1].split('"', 1)[0]
    assert cache.startswith("fondo-stands-") and len(cache) == len("fondo-stands-") + 16
    app = client.application
    static = tmp_path / "static"
    static.mkdir()
    for name in ("stands-sw.js", "stands.js", "style.css"):
        (static / name).write_bytes((Path(app.static_folder or "") / name).read_bytes())
    original = app.static_folder
    app.static_folder = str(static)
    try:
        (static / "stands.js").write_text("// a new release\n", encoding="utf-8")
        renamed = client.get("/stands/sw.js").get_data(as_text=True)
    finally:
        app.static_folder = original
    assert cache not in renamed and "fondo-stands-" in renamed
