"""Registry requests: searches are literal and sent by POST; unknown donors change nothing."""

import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.gift import Gift
from ledger.identity import DonorDetails
from projections import registry
from projections.store import LedgerStore
from web import create_app, store

CAMPAIGN = "fare-legami-anni-2-3"
DONORS = (
    DonorDetails(organization="Fondazione 100% Cremona", email="cento@example.org"),
    DonorDetails(first_name="Anna_Maria", last_name="Rossi", email="anna_maria@example.org"),
    DonorDetails(first_name="Annamaria", last_name="Bianchi", email="annaxmaria@example.org"),
    DonorDetails(first_name="Back\\slash", last_name="Verdi", email="verdi@example.org"),
    DonorDetails(
        first_name="Mario", last_name="Neri", email="mario.neri@example.org", phone="+393331234567"
    ),
)


def record_donors(ledger: LedgerStore) -> None:
    ledger.app.start_campaign(CAMPAIGN, "Anni 2 e 3", 33_600_000)
    ledger.app.record_gifts(
        [
            Gift(
                source_key=f"bank:R-{index}",
                campaign=CAMPAIGN,
                amount_cents=1000 + index,
                value_date=date(2016, 9, 1),
                channel="bank",
                method="bank_transfer",
                details=details,
                privacy_consent=True,
            )
            for index, details in enumerate(DONORS)
        ]
    )
    ledger.runner.catch_up()


@pytest.fixture
def registry_store(store: LedgerStore) -> LedgerStore:
    record_donors(store)
    return store


def search(ledger: LedgerStore, text: str) -> list[str]:
    with ledger.database.reading() as session:
        return sorted(d["email"] for d in registry.search_donors(session, text))


def test_percent_and_underscore_in_a_search_are_literal(registry_store: LedgerStore) -> None:
    assert search(registry_store, "%") == ["cento@example.org"]
    assert search(registry_store, "100%") == ["cento@example.org"]
    assert search(registry_store, "_") == ["anna_maria@example.org"]
    assert search(registry_store, "anna_maria") == ["anna_maria@example.org"]
    assert search(registry_store, "\\") == ["verdi@example.org"]
    assert search(registry_store, "annamaria") == ["annaxmaria@example.org"]
    assert len(search(registry_store, "")) == len(DONORS)


# The examples only read the registry the fixture wrote once, hence the suppressed check.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="an_%\\m r.@x", min_size=1, max_size=6))
def test_every_result_contains_what_was_typed(registry_store: LedgerStore, text: str) -> None:
    needle = " ".join(text.split()).lower()
    with registry_store.database.reading() as session:
        found = registry.search_donors(session, text)
    for donor in found:
        fields = (
            donor["display_name"],
            f"{donor['first_name']} {donor['last_name']}",
            donor["email"] or "",
            donor["tax_code"] or "",
        )
        assert not needle or any(needle in field.lower() for field in fields), (text, donor)
    expected = [
        d
        for d in DONORS
        if needle in d.display_name.lower()
        or needle in f"{d.first_name} {d.last_name}".lower()
        or needle in (d.email or "")
    ]
    assert len(found) == (len(expected) if needle else len(DONORS))


@pytest.fixture
def office(store_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": store_url,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        record_donors(store())
        store().app.add_user("staff@example.org", "staff", "una-password-lunga")
    yield app
    app.extensions["ledger_store"].close()


def test_search_is_a_post_and_a_query_string_is_not_read(office: Flask) -> None:
    client = office.test_client()
    client.post("/login", data={"email": "staff@example.org", "password": "una-password-lunga"})
    found = client.post("/admin/registry", data={"q": "333 123 4567"}).get_data(as_text=True)
    assert "mario.neri@example.org" in found and "verdi@example.org" not in found
    assert 'method="post"' in found
    listed = client.get("/admin/registry?q=333 123 4567").get_data(as_text=True)
    assert all(str(d.email) in listed for d in DONORS)  # the whole list: the query was ignored


def test_consent_and_merge_of_an_unknown_donor_are_404_and_record_nothing(office: Flask) -> None:
    client = office.test_client()
    client.post("/login", data={"email": "staff@example.org", "password": "una-password-lunga"})
    with office.app_context():
        ledger = store()
        with ledger.database.reading() as session:
            known = str(registry.search_donors(session, "mario.neri")[0]["donor_id"])
        before = ledger.app.recorder.max_notification_id() or 0
    consent = {"privacy": "y", "marketing": "y", "how": "modulo firmato", "on": "2016-09-02"}
    for unknown in (str(uuid.uuid4()), "non-un-id", "%27%3B--"):
        assert client.post(f"/admin/registry/{unknown}/consent", data=consent).status_code == 404
        for pair in ((unknown, known), (known, unknown)):
            merge = {"first": pair[0], "second": pair[1], "survivor": pair[0]}
            assert client.post("/admin/registry/merge", data=merge).status_code == 404
        assert client.post(f"/admin/registry/{unknown}/unmerge").status_code == 404
    assert client.post(f"/admin/registry/{known}/unmerge").status_code == 404  # never merged
    with office.app_context():
        assert (store().app.recorder.max_notification_id() or 0) == before
    assert client.post(f"/admin/registry/{known}/consent", data=consent).status_code == 302
    with office.app_context():
        assert (store().app.recorder.max_notification_id() or 0) > before  # the check itself
