"""The donation form: validation, Stripe Checkout through the official SDK, no keys, Stripe down."""

import re
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.card_fees import CardPricing
from ledger.dates import today
from ledger.errors import InvalidInputError
from ledger.gift import Gift
from tests.e2e.conftest import free_port
from tests.fakestripe import FakeStripe, StripeStory
from tests.fakestripe.fixtures import stripe_event, stripe_object
from tests.helpers import CURRENT, SECRET, deliver, make_app, served_figures, start_campaigns
from web import create_app, store
from web.cli import main

VALID = {
    "amount": "2500",
    "frequency": "once",
    "campaign": CURRENT,
    "tax_code": "",
    "privacy_consent": "y",
}


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def donate(store_url: str, fake_stripe: FakeStripe) -> Iterator[FlaskClient]:
    app = make_app(
        store_url,
        STRIPE_SECRET_KEY="sk_test_fondo",
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_API_BASE=fake_stripe.base_url,
    )
    yield app.test_client()
    app.extensions["ledger_store"].close()


def test_one_off_gift_goes_to_checkout_with_the_campaign(
    donate: FlaskClient, fake_stripe: FakeStripe
) -> None:
    response = donate.post(
        "/donate/", data={**VALID, "tax_code": "rssmra80a01d150j", "marketing_consent": "y"}
    )
    assert response.status_code == 303
    [session] = fake_stripe.sessions.values()
    assert response.headers["Location"] == session["url"]
    assert (session["mode"], session["submit_type"], session["amount_total"]) == (
        "payment",
        "donate",
        2500,
    )
    assert session["metadata"] == {
        "campaign": CURRENT,
        "tax_code": "RSSMRA80A01D150J",
        "privacy_consent": "true",
        "marketing_consent": "true",
        "frequency": "once",
    }


def test_monthly_gift_is_a_subscription(donate: FlaskClient, fake_stripe: FakeStripe) -> None:
    response = donate.post(
        "/donate/",
        data={**VALID, "amount": "other", "other_amount": "12,50", "frequency": "monthly"},
    )
    assert response.status_code == 303
    [session] = fake_stripe.sessions.values()
    assert session["mode"] == "subscription" and session["amount_total"] == 1250
    assert session["line_items"][0]["price_data"]["recurring"]["interval"] == "month"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "other", "other_amount": "0,50"}, "L&#39;importo va da € 1,00 a € 10.000,00"),
        ({"amount": "other", "other_amount": "20000"}, "€ 10.000,00"),
        ({"amount": "other", "other_amount": "tanti"}, "Scrivi un importo"),
        ({"tax_code": "RSSMRA80A01D150X"}, "Codice fiscale o partita IVA non valido"),
        ({"privacy_consent": ""}, "Serve il consenso"),
    ],
)
def test_invalid_form_is_422_with_a_message_and_no_checkout(
    donate: FlaskClient, fake_stripe: FakeStripe, data: dict[str, str], message: str
) -> None:
    response = donate.post("/donate/", data={**VALID, **data})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert fake_stripe.sessions == {}


def test_without_keys_the_form_says_cards_are_unavailable(store_url: str) -> None:
    app = make_app(store_url, STRIPE_SECRET_KEY=None)
    client = app.test_client()
    page = client.get("/donate/")
    assert page.status_code == 200 and "non sono disponibili" in page.get_data(as_text=True)
    assert client.post("/donate/", data=VALID).status_code == 503
    app.extensions["ledger_store"].close()


def test_stripe_down_is_a_message_not_a_crash(store_url: str) -> None:
    app = make_app(
        store_url, STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}"
    )
    response = app.test_client().post("/donate/", data=VALID)
    assert response.status_code == 503
    assert "non risponde" in response.get_data(as_text=True)
    app.extensions["ledger_store"].close()


def test_the_form_needs_its_csrf_token(store_url: str, fake_stripe: FakeStripe) -> None:
    app = make_app(
        store_url,
        STRIPE_SECRET_KEY="sk_test_x",
        STRIPE_API_BASE=fake_stripe.base_url,
        WTF_CSRF_ENABLED=True,
    )
    assert app.test_client().post("/donate/", data=VALID).status_code == 400
    assert fake_stripe.sessions == {}
    app.extensions["ledger_store"].close()


def test_sync_fees_records_the_balance_transaction_fee(
    donate: FlaskClient, fake_stripe: FakeStripe, store_url: str
) -> None:
    story = StripeStory()
    for amount in (2500, 10000):
        session, events = story.card_gift(amount, story.customer_details("A B", "a@example.org"))
        fake_stripe.add_payment(session["payment_intent"], amount)
        for event in events:
            deliver(donate, event)
    runner = CliRunner(
        env={
            "LEDGER_DATABASE_URL": store_url,
            "STRIPE_SECRET_KEY": "sk_test_x",
            "STRIPE_API_BASE": fake_stripe.base_url,
        }
    )
    result = runner.invoke(main, ["stripe", "sync-fees"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "2 payments checked, 2 fees recorded" in result.output
    expected_fees = (round(2500 * 0.015) + 25) + (round(10000 * 0.015) + 25)
    got = served_figures(donate)
    assert (got["fees_cents"], got["net_cents"]) == (expected_fees, 12500 - expected_fees)
    again = runner.invoke(main, ["stripe", "sync-fees"])
    assert "0 payments checked" in again.output


def test_sync_fees_without_a_key_is_a_clear_error(store_url: str) -> None:
    result = CliRunner(env={"LEDGER_DATABASE_URL": store_url, "STRIPE_SECRET_KEY": ""}).invoke(
        main, ["stripe", "sync-fees"]
    )
    assert result.exit_code == 1 and "STRIPE_SECRET_KEY" in result.stderr


def test_amount_bounds_come_from_the_environment(
    store_url: str, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DONATION_MIN", "5")
    monkeypatch.setenv("LEDGER_DONATION_MAX", "50,00")
    app = make_app(store_url, STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=fake_stripe.base_url)
    client = app.test_client()
    low = client.post("/donate/", data={**VALID, "amount": "other", "other_amount": "4"})
    high = client.post("/donate/", data={**VALID, "amount": "10000"})
    assert (low.status_code, high.status_code) == (422, 422)
    assert "€ 5,00 a € 50,00" in high.get_data(as_text=True)
    # Before anything is sent, the preselected € 25 is no error, whatever the bounds.
    monkeypatch.setenv("LEDGER_DONATION_MIN", "30")
    stricter = make_app(store_url, STRIPE_SECRET_KEY="sk_test_x")
    first = stricter.test_client().get("/donate/").get_data(as_text=True)
    assert "field-error" not in first and "aria-invalid" not in first
    stricter.extensions["ledger_store"].close()
    assert (
        client.post("/donate/", data={**VALID, "amount": "other", "other_amount": "5"}).status_code
        == 303
    )
    app.extensions["ledger_store"].close()


@pytest.mark.parametrize(
    ("preset", "typed", "message"),
    [
        ("2500", "35", "Hai scelto € 25,00 ma scritto € 35,00"),
        ("10000", "99,99", "Hai scelto € 100,00 ma scritto € 99,99"),
        ("1000", "dieci", "Scrivi un importo"),
    ],
)
def test_a_typed_amount_that_disagrees_with_the_preset_is_refused(
    donate: FlaskClient, fake_stripe: FakeStripe, preset: str, typed: str, message: str
) -> None:
    # What a browser without the page's script sends when the donor types but does not click.
    response = donate.post("/donate/", data={**VALID, "amount": preset, "other_amount": typed})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert fake_stripe.sessions == {}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    preset=st.sampled_from(["1000", "2500", "5000", "10000", "other"]),
    typed=st.one_of(st.none(), st.integers(100, 1_000_000)),
)
def test_the_amount_charged_is_the_one_selected_and_typed(
    donate: FlaskClient, fake_stripe: FakeStripe, preset: str, typed: int | None
) -> None:
    fake_stripe.sessions.clear()
    written = "" if typed is None else f"{typed // 100},{typed % 100:02d}"
    response = donate.post("/donate/", data={**VALID, "amount": preset, "other_amount": written})
    charged = typed if preset == "other" else int(preset)
    if charged is None or (typed is not None and charged != typed):
        assert response.status_code == 422 and fake_stripe.sessions == {}
    else:
        [session] = fake_stripe.sessions.values()
        assert response.status_code == 303 and session["amount_total"] == charged


def test_only_campaigns_running_today_in_rome_are_offered(
    store_url: str, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(store_url, STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=fake_stripe.base_url)
    # Pago Pago (UTC-11) and Kiritimati (UTC+14) are never on the same date.
    monkeypatch.setenv("LEDGER_TIMEZONE", "Pacific/Pago_Pago")
    last_day = today()
    with app.app_context():
        store().app.start_campaign("finisce-oggi", "Finisce oggi", 100_000, None, last_day)
        store().runner.catch_up()
    client = app.test_client()
    page = client.get("/donate/").get_data(as_text=True)
    assert 'value="finisce-oggi"' in page and f'value="{CURRENT}"' in page
    assert "non sono disponibili" not in page
    assert 'value="fare-legami-anni-2-3"' not in page  # ended on 30/06/2018
    assert client.post("/donate/", data={**VALID, "campaign": "finisce-oggi"}).status_code == 303

    monkeypatch.setenv("LEDGER_TIMEZONE", "Pacific/Kiritimati")
    page = client.get("/donate/").get_data(as_text=True)
    assert 'value="finisce-oggi"' not in page and f'value="{CURRENT}"' in page
    assert f'<option selected value="{CURRENT}">' in page
    for ended in ("finisce-oggi", "fare-legami-anni-2-3"):
        refused = client.post("/donate/", data={**VALID, "campaign": ended})
        assert refused.status_code == 422
        assert "non raccoglie più donazioni" in refused.get_data(as_text=True)
    assert len(fake_stripe.sessions) == 1
    app.extensions["ledger_store"].close()


def test_with_no_campaign_running_the_form_says_so(store_url: str) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": store_url,
            "WTF_CSRF_ENABLED": False,
            "STRIPE_SECRET_KEY": "sk_test_x",
        }
    )
    with app.app_context():
        start_campaigns(store())  # both ended long ago
        store().runner.catch_up()
    page = app.test_client().get("/donate/")
    assert page.status_code == 200
    assert "Nessuna campagna raccoglie donazioni" in page.get_data(as_text=True)
    app.extensions["ledger_store"].close()


def field_tag(page: str, name: str) -> str:
    """The opening tag of the form control named `name`."""
    found = re.search(rf'<(?:input|select)[^>]*\bname="{name}"[^>]*>', page)
    assert found, name
    return found.group(0)


def test_the_form_shows_progress_the_amount_on_the_button_and_the_privacy_notice(
    donate: FlaskClient,
) -> None:
    with donate.application.app_context():
        for n, cents in enumerate((4000, 6000)):
            store().app.record_gift(
                Gift(f"t:{n}", CURRENT, cents, today(), "bank", "bank_transfer", donors=1)
            )
        store().runner.catch_up()
    page = donate.get("/donate/").get_data(as_text=True)
    summary = page[page.index("progress-summary") : page.index("</section>")]
    assert "€ 100,00" in summary and "raccolti su" in summary and "€ 10.000,00" in summary
    assert '<span class="donors">2</span> donatori' in summary
    assert re.search(
        r'<button type="submit" class="primary big give"[^>]*>Dona € 25,00</button>', page
    )
    consent = page[page.index('class="consent"') :]
    assert 'href="/privacy"' in consent[: consent.index("</div>")]
    assert donate.get("/privacy").status_code == 200
    assert "Titolare del trattamento" in donate.get("/privacy").get_data(as_text=True)
    english = donate.get("/donate/?lang=en").get_data(as_text=True)
    assert ">Give €25.00</button>" in english and "Read the privacy notice" in english


def test_a_refused_form_ties_each_error_to_its_field(
    donate: FlaskClient, fake_stripe: FakeStripe
) -> None:
    response = donate.post(
        "/donate/",
        data={
            **VALID,
            "amount": "other",
            "other_amount": "tanti",
            "privacy_consent": "",
            "tribute_kind": "memory",
            "tribute_name": "",
        },
    )
    assert response.status_code == 422 and fake_stripe.sessions == {}
    page = response.get_data(as_text=True)
    for name in ("other_amount", "privacy_consent", "tribute_name"):
        tag = field_tag(page, name)
        assert 'aria-invalid="true"' in tag
        assert f'aria-describedby="{name}-error"' in tag
        assert re.search(rf'<span class="field-error" id="{name}-error">[^<]+</span>', page)
    assert "aria-invalid" not in field_tag(page, "tax_code")
    assert "Scrivi il nome della persona" in page
    # What the donor chose stays chosen.
    assert re.search(
        r'<input checked id="tribute_kind-1" name="tribute_kind"[^>]*value="memory"', page
    )


def test_covering_the_fee_charges_the_estimate_and_the_gift_records_it(
    donate: FlaskClient, fake_stripe: FakeStripe
) -> None:
    response = donate.post("/donate/", data={**VALID, "cover_fee": "y", "show_place": "y"})
    assert response.status_code == 303
    [session] = fake_stripe.sessions.values()
    # Stripe's EU card pricing, 1.5% + € 0.25: ⌈(2500 + 25) / 0.985⌉ = 2564.
    assert session["amount_total"] == 2564
    assert session["metadata"]["covered_fee_cents"] == "64"
    story = StripeStory(campaign=CURRENT, start=int(time.time()) - 7200)
    details = story.customer_details("Anna Bianchi", "anna@example.org", None, "26013")
    details["address"]["city"] = "crema "
    paid = story.session(2564, details, metadata=session["metadata"])
    assert deliver(donate, story.event("checkout.session.completed", paid)) == 200
    with donate.application.app_context():
        donation = store().app.find_donation(f"stripe:{paid['payment_intent']}")
        assert donation is not None
        assert (donation.amount_cents, donation.covered_fee_cents) == (2564, 64)
        assert donation.public_place == "Crema"  # asked for, and a district town


def test_the_fee_estimate_follows_the_configured_pricing(store_url: str) -> None:
    app = make_app(store_url, STRIPE_SECRET_KEY="sk_test_x", CARD_PRICING=CardPricing(290, 30))
    page = app.test_client().get("/donate/").get_data(as_text=True)
    # ⌈(2500 + 30) / 0.971⌉ − 2500 = 106 cents.
    assert 'class="fee-estimate" data-bp="290" data-fixed="30">€ 1,06</strong>' in page
    app.extensions["ledger_store"].close()


def test_a_malformed_card_fee_setting_stops_the_app(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_CARD_FEE", "tanto")
    with pytest.raises(InvalidInputError, match="LEDGER_CARD_FEE"):
        make_app(store_url)


def test_a_dedication_goes_to_checkout_cleaned_and_onto_the_gift(
    donate: FlaskClient, fake_stripe: FakeStripe
) -> None:
    response = donate.post(
        "/donate/",
        data={**VALID, "tribute_kind": "honour", "tribute_name": "  Nonna \t Lina  "},
    )
    assert response.status_code == 303
    [session] = fake_stripe.sessions.values()
    assert (session["metadata"]["tribute_kind"], session["metadata"]["tribute_name"]) == (
        "honour",
        "Nonna Lina",
    )
    assert "show_place" not in session["metadata"]  # not asked: no town shown
    story = StripeStory(campaign=CURRENT, start=int(time.time()) - 7200)
    paid = story.session(
        2500, story.customer_details("Anna Bianchi", "a@example.org"), metadata=session["metadata"]
    )
    assert deliver(donate, story.event("checkout.session.completed", paid)) == 200
    with donate.application.app_context():
        donation = store().app.find_donation(f"stripe:{paid['payment_intent']}")
        assert donation is not None and donation.public_place == ""
        sealed = store().app.donor_of(donation)
        assert sealed is not None and sealed["tribute"] == {"kind": "honour", "name": "Nonna Lina"}


@pytest.mark.parametrize(
    ("name", "message"),
    [("x" * 121, "al massimo 120 caratteri"), ("Lina\x1b[31m", "carattere di controllo")],
)
def test_a_dedication_too_long_or_with_control_characters_is_refused(
    donate: FlaskClient, fake_stripe: FakeStripe, name: str, message: str
) -> None:
    response = donate.post(
        "/donate/", data={**VALID, "tribute_kind": "memory", "tribute_name": name}
    )
    assert response.status_code == 422 and fake_stripe.sessions == {}
    assert message in response.get_data(as_text=True)


def test_a_monthly_donor_opens_the_customer_portal_from_the_thank_you_page(
    donate: FlaskClient, fake_stripe: FakeStripe
) -> None:
    donate.post("/donate/", data={**VALID, "frequency": "monthly"})
    [session] = fake_stripe.sessions.values()
    completed = fake_stripe.complete(session["id"])
    thanks = donate.get(f"/donate/grazie?session_id={session['id']}").get_data(as_text=True)
    assert "Gestisci o annulla la donazione mensile" in thanks
    assert f'name="session_id" value="{session["id"]}"' in thanks
    response = donate.post("/donate/gestisci", data={"session_id": session["id"]})
    assert response.status_code == 303
    [portal] = fake_stripe.portal_sessions.values()
    assert response.headers["Location"] == portal["url"]
    assert portal["customer"] == completed["customer"]
    assert portal["return_url"] == "http://localhost/donate/"
    assert donate.get(portal["url"].removeprefix(fake_stripe.base_url)).status_code == 404


def test_a_one_off_or_unknown_session_has_no_portal(
    donate: FlaskClient, fake_stripe: FakeStripe
) -> None:
    donate.post("/donate/", data=VALID)
    [session] = fake_stripe.sessions.values()
    fake_stripe.complete(session["id"])
    thanks = donate.get(f"/donate/grazie?session_id={session['id']}")
    assert thanks.status_code == 200 and "Gestisci" not in thanks.get_data(as_text=True)
    for session_id in (session["id"], "cs_test_unknown", "not-a-session", ""):
        assert donate.post("/donate/gestisci", data={"session_id": session_id}).status_code == 404
    assert fake_stripe.portal_sessions == {}


def test_a_cancelled_monthly_gift_is_recorded_and_expects_no_further_month(
    donate: FlaskClient,
) -> None:
    story = StripeStory()
    details = story.customer_details("Mario Rossi", "mario@example.org")
    events = story.monthly_gift(1500, details, 2, cancelled=False, new_invoice_shape=True)
    for event in events:
        assert deliver(donate, event) == 200
    running = served_figures(donate)
    assert (running["monthly_gifts"], running["monthly_cents"]) == (1, 1500)
    sub_id = events[0]["data"]["object"]["subscription"]
    deleted = stripe_event(
        "evt_deleted_fondo",
        "customer.subscription.deleted",
        story.clock + 60,
        stripe_object(
            "subscription",
            id=sub_id,
            status="canceled",
            canceled_at=story.clock + 60,
            metadata=story.metadata(frequency="monthly"),
            currency="eur",
        ),
    )
    assert deliver(donate, deleted) == 200
    assert deliver(donate, deleted) == 200  # a resend changes nothing
    after = served_figures(donate)
    assert (after["monthly_gifts"], after["monthly_cents"]) == (0, 0)
    assert after["raised_cents"] == running["raised_cents"] == 3000  # the months paid stay
