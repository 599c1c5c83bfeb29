"""One "today" everywhere: the foundation's day (Europe/Rome unless LEDGER_TIMEZONE says
otherwise), tried at a moment that is already tomorrow in Rome but still today in UTC."""

from datetime import UTC, date, datetime

import pytest
from flask import Flask

from ledger import dates
from ledger.dates import local_day, today
from ledger.errors import InvalidInputError
from projections.reports import progress
from projections.store import LedgerStore
from tests.helpers import gift, start_campaigns
from web.stripe_gateway import day_of

# 22:30 UTC on 31 March 2024 is 00:30 on 1 April in Rome (summer time began that night).
MOMENT = datetime(2024, 3, 31, 22, 30, tzinfo=UTC)
ROME_DAY, UTC_DAY = date(2024, 4, 1), date(2024, 3, 31)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_TIMEZONE", raising=False)
    monkeypatch.setattr(dates, "now", lambda: MOMENT)


def test_today_is_the_day_in_rome(clock: None) -> None:
    assert today() == ROME_DAY
    assert local_day(MOMENT) == ROME_DAY
    assert local_day(MOMENT.timestamp()) == ROME_DAY
    assert day_of(int(MOMENT.timestamp())) == ROME_DAY
    assert day_of(None) == ROME_DAY


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("UTC", UTC_DAY),
        ("Europe/Rome", ROME_DAY),
        ("America/New_York", UTC_DAY),
        ("Asia/Tokyo", ROME_DAY),
    ],
)
def test_the_time_zone_is_configurable(
    clock: None, monkeypatch: pytest.MonkeyPatch, zone: str, day: date
) -> None:
    monkeypatch.setenv("LEDGER_TIMEZONE", zone)
    assert today() == day
    assert day_of(int(MOMENT.timestamp())) == day


def test_an_unknown_time_zone_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TIMEZONE", "Europe/Cremona")
    with pytest.raises(InvalidInputError, match="LEDGER_TIMEZONE"):
        today()


def test_the_default_report_counts_a_gift_made_after_midnight_in_rome(
    clock: None, store: LedgerStore
) -> None:
    start_campaigns(store)
    store.app.record_gifts(
        [gift("early", 4_200, value_date=ROME_DAY), gift("before", 1_000, value_date=UTC_DAY)]
    )
    store.runner.catch_up()
    [figures] = progress(store.database, "fare-legami-anni-2-3")
    assert (figures["as_of"], figures["raised_cents"]) == ("2024-04-01", 5_200)


def test_back_office_and_stand_forms_default_to_the_day_in_rome(clock: None, office: Flask) -> None:
    client = office.test_client()
    assert (
        client.post(
            "/login", data={"email": "staff@example.org", "password": "una-password-lunga"}
        ).status_code
        == 302
    )
    for page in ("/admin/donations/new", "/stands/", "/stands/reconciliation"):
        html = client.get(page).get_data(as_text=True)
        assert 'value="2024-04-01"' in html, page
        assert 'value="2024-03-31"' not in html, page
