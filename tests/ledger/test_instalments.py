"""Which month of a monthly gift a gift is: recorded on the gift, read back from old events."""

import json
from dataclasses import replace
from datetime import date

import pytest

from ledger.application import LedgerApplication
from ledger.donation import Donation
from ledger.errors import InvalidInputError
from ledger.gift import FIRST_MONTH, LATER_MONTH, Gift
from ledger.identity import DonorDetails
from ledger.mail import thanked_by_mail
from web.stripe_gateway import _instalment

MONTH = Gift(
    source_key="stripe:in_1",
    campaign="c",
    amount_cents=1500,
    value_date=date(2016, 10, 1),
    channel="online",
    method="card",
    details=DonorDetails.parse(email="mario@example.org"),
    instalment=LATER_MONTH,
)


@pytest.mark.parametrize(
    ("reason", "instalment"),
    [
        ("subscription_create", FIRST_MONTH),
        ("subscription_cycle", LATER_MONTH),
        ("subscription_update", LATER_MONTH),
        ("subscription_threshold", LATER_MONTH),
        ("manual", ""),
        (None, ""),
    ],
)
def test_the_invoice_billing_reason_says_which_month_it_is(
    reason: str | None, instalment: str
) -> None:
    assert _instalment({"billing_reason": reason}) == instalment


def test_only_a_later_month_of_an_identified_online_gift_goes_unthanked() -> None:
    later = Donation(
        source_key="k",
        campaign="c",
        amount_cents=1500,
        donors=1,
        identified=True,
        channel="online",
        method="card",
        value_date=date(2016, 10, 1),
        district="",
        stand="",
        status="confirmed",
        sealed_donor=None,
        instalment=LATER_MONTH,
    )
    [received] = later.collect_events()
    assert isinstance(received, Donation.Received)
    assert not thanked_by_mail(received)
    assert thanked_by_mail(replace(received, instalment=FIRST_MONTH))
    assert thanked_by_mail(replace(received, instalment=""))
    assert not thanked_by_mail(replace(received, instalment="", channel="bank"))


def test_an_unknown_instalment_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="instalment"):
        replace(MONTH, instalment="second")


def test_a_gift_recorded_before_months_were_told_apart_reads_as_one_off() -> None:
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.start_campaign("c", "Campagna", 100_000)
    app.record_gift(MONTH)
    [stored] = app.recorder.select_events(MONTH.donation_id)
    state = json.loads(stored.state)
    assert state.pop("class_version") == 3 and state.pop("instalment") == LATER_MONTH
    assert (state.pop("covered_fee_cents"), state.pop("public_place")) == (0, "")
    old = replace(stored, state=json.dumps(state).encode())
    event = app.mapper.to_domain_event(old)
    assert isinstance(event, Donation.Received) and event.instalment == ""
    assert app.find_donation(MONTH.source_key).instalment == LATER_MONTH  # type: ignore[union-attr]
