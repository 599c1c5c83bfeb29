"""The public campaign page (latest gifts, no personal data) and the embeddable widget (framed
only by the sites in LEDGER_EMBED_ORIGINS)."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.dates import today
from ledger.gift import Gift
from ledger.identity import DonorDetails
from web import create_app, store
from web.public import embed_origins

SLUG = "legami-in-corso"
ORIGINS = "https://www.fondazionecremona.it, https://legami.example.org:8443"


def site(url: str, **config: object) -> Flask:
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "LEDGER_DATABASE_URL": url, **config})
    with app.app_context():
        store().app.start_campaign(SLUG, "Legami in corso", 1_000_000)
    return app


@pytest.fixture
def public(store_url: str) -> Iterator[FlaskClient]:
    app = site(store_url, LEDGER_EMBED_ORIGINS=ORIGINS)
    yield app.test_client()
    app.extensions["ledger_store"].close()


def online(key: str, cents: int, place: str = "", **extra: object) -> Gift:
    return Gift(
        key,
        SLUG,
        cents,
        today(),
        "online",
        "card",
        details=DonorDetails.parse(
            first_name="Maria", last_name="Verdi", email=f"{key}@example.org", city="Crema"
        ),
        privacy_consent=True,
        public_place=place,
        **extra,  # type: ignore[arg-type]
    )


def test_latest_gifts_name_no_donor_and_a_town_only_when_allowed(public: FlaskClient) -> None:
    with public.application.app_context():
        app = store().app
        app.record_gift(online("stripe:pi_a", 2500))  # the donor lives in Crema, did not ask
        app.record_gift(online("stripe:pi_b", 5000, "Crema"))  # asked to show the town
        app.record_gift(
            Gift(
                "stand:1",
                SLUG,
                800,
                today(),
                "stand",
                "cash",
                donors=4,
                tally=True,
                district="Casalmaggiore",
                stand="piazza",
            )
        )
        app.record_gift(
            Gift("pending:1", SLUG, 9900, today(), "online", "sepa_debit", status="pending")
        )
        app.record_gift(online("stripe:pi_c", 1000))
        app.refund("stripe:pi_c", "re_1", 1000, today())
    page = public.get(f"/campagne/{SLUG}").get_data(as_text=True)
    latest = page[page.index('class="latest"') : page.index("</ul>")]
    assert "Un donatore ha donato € 25,00" in latest
    assert "Un donatore da Crema ha donato € 50,00" in latest
    assert "4 donatori da Casalmaggiore hanno donato € 8,00" in latest
    assert latest.count("<li>") == 3  # neither the pending gift nor the refunded one
    assert "Maria" not in page and "Verdi" not in page and "example.org" not in page
    assert "€ 83,00" in page  # the campaign's progress beside them
    english = public.get(f"/campagne/{SLUG}?lang=en").get_data(as_text=True)
    assert "A donor from Crema gave €50.00" in english
    assert public.get("/campagne/nessuna").status_code == 404


def test_the_widget_may_be_framed_by_the_listed_sites_only(public: FlaskClient) -> None:
    widget = public.get(f"/embed/campaigns/{SLUG}")
    assert widget.status_code == 200
    policy = widget.headers["Content-Security-Policy"]
    assert policy.endswith(
        "frame-ancestors https://www.fondazionecremona.it https://legami.example.org:8443"
    )
    assert "X-Frame-Options" not in widget.headers
    body = widget.get_data(as_text=True)
    assert "Legami in corso" in body and 'class="topbar"' not in body
    assert 'target="_blank"' in body  # giving opens the form outside the frame
    for path in ("/", f"/campagne/{SLUG}", "/donate/", "/privacy", "/embed/campaigns/nessuna"):
        answer = public.get(path)
        assert answer.headers["X-Frame-Options"] == "DENY", path
        assert answer.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'"), path


def test_without_origins_the_widget_is_framed_by_nobody(sqlite_url: str) -> None:
    app = site(sqlite_url)
    widget = app.test_client().get(f"/embed/campaigns/{SLUG}")
    assert widget.status_code == 200
    assert widget.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert widget.headers["X-Frame-Options"] == "DENY"
    app.extensions["ledger_store"].close()


def test_the_origins_setting_takes_origins_and_nothing_else() -> None:
    assert embed_origins(ORIGINS + " https://www.fondazionecremona.it/") == (
        "https://www.fondazionecremona.it",
        "https://legami.example.org:8443",
    )
    assert embed_origins("") == ()
    for bad in (
        "*",
        "https://*.example.org",
        "www.example.org",
        "ftp://example.org",
        "https://example.org/page",
        "https://example.org?x=1",
        "https://user@example.org",
        "'self'",
        "https://example.org;script-src",
    ):
        with pytest.raises(ValueError, match="LEDGER_EMBED_ORIGINS"):
            embed_origins(bad)


def test_a_bad_origins_setting_stops_the_app(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="LEDGER_EMBED_ORIGINS"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "t",
                "LEDGER_DATABASE_URL": sqlite_url,
                "LEDGER_EMBED_ORIGINS": "https://*.example.org",
            }
        )


def test_a_gift_dated_tomorrow_waits_for_its_day(public: FlaskClient) -> None:
    with public.application.app_context():
        store().app.record_gift(
            Gift("bank:1", SLUG, 1200, today() + timedelta(days=1), "bank", "bank_transfer")
        )
    page = public.get(f"/campagne/{SLUG}").get_data(as_text=True)
    assert "€ 12,00" not in page[page.index('class="latest"') :]
