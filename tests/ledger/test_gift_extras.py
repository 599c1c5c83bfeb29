"""What a donor adds to a gift: the card fee covered, a dedication, the town shown publicly."""

import json
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import LedgerApplication
from ledger.card_fees import STANDARD_EEA_CARD, CardPricing
from ledger.donation import Donation
from ledger.errors import InvalidInputError
from ledger.gift import IN_MEMORY, MAX_TRIBUTE_NAME, Gift, clean_tribute_name
from ledger.identity import DonorDetails
from ledger.receipts import Receipts
from web.pdf import Foundation, receipt_pdf

GIFT = Gift(
    source_key="stripe:pi_1",
    campaign="c",
    amount_cents=2564,
    value_date=date(2016, 10, 1),
    channel="online",
    method="card",
    details=DonorDetails.parse(first_name="Anna", last_name="Bianchi", email="anna@example.org"),
    privacy_consent=True,
    covered_fee_cents=64,
    tribute_kind=IN_MEMORY,
    tribute_name="Giovanni Bianchi",
    public_place="Crema",
)


def test_stripe_standard_eea_pricing_is_the_default_and_reads_back() -> None:
    assert CardPricing.parse(STANDARD_EEA_CARD) == CardPricing(150, 25)
    assert CardPricing.parse(" 2,9 % + 0,30 ") == CardPricing(290, 30)
    for bad in ("", "1.5", "1.5%", "25%+0.25", "abc", "1.5%+1000"):
        with pytest.raises(InvalidInputError, match="LEDGER_CARD_FEE"):
            CardPricing.parse(bad)


def test_the_covered_fee_of_25_euro_is_64_cents() -> None:
    # ⌈(2500 + 25) / 0.985⌉ = 2564; Stripe then takes 1.5% of 2564 + 25 = 63 cents.
    assert CardPricing(150, 25).covering(2500) == 64


@given(
    st.integers(min_value=100, max_value=100_000_000),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=100),
)
def test_what_the_foundation_keeps_is_at_least_the_gift_chosen(
    amount: int, basis_points: int, fixed: int
) -> None:
    pricing = CardPricing(basis_points, fixed)
    total = amount + pricing.covering(amount)
    # The processor's fee on the total, rounded to the cent as it charges it.
    charged = round(total * basis_points / 10_000) + fixed
    assert total - charged >= amount
    assert total - charged - amount <= 1  # and not more than a cent beyond it


def test_a_covered_fee_is_part_of_the_gift_and_less_than_it() -> None:
    for fee in (-1, 2564, 3000):
        with pytest.raises(InvalidInputError, match="covered_fee"):
            replace(GIFT, covered_fee_cents=fee)


def test_a_dedication_names_a_person_on_one_bounded_line() -> None:
    assert clean_tribute_name("  Giovanni \n  Bianchi ") == "Giovanni Bianchi"
    with pytest.raises(InvalidInputError, match="tribute_name"):
        clean_tribute_name("x" * (MAX_TRIBUTE_NAME + 1))
    with pytest.raises(InvalidInputError, match="tribute_name"):
        clean_tribute_name("Giovanni\x00")
    with pytest.raises(InvalidInputError, match="tribute_name"):
        replace(GIFT, tribute_name="")
    with pytest.raises(InvalidInputError, match="tribute_kind"):
        replace(GIFT, tribute_kind="birthday")
    with pytest.raises(InvalidInputError, match="public_place"):
        replace(GIFT, public_place="Soresina")


def test_fee_and_dedication_are_recorded_and_the_name_is_on_the_receipt(tmp_path: Path) -> None:
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.start_campaign("c", "Campagna", 100_000)
    app.record_gift(GIFT)
    donation = app.find_donation(GIFT.source_key)
    assert donation is not None
    assert (donation.amount_cents, donation.covered_fee_cents, donation.public_place) == (
        2564,
        64,
        "Crema",
    )
    # The name is personal data: sealed with the donor's, never in the clear.
    [stored] = app.recorder.select_events(GIFT.donation_id)
    assert b"Giovanni" not in stored.state
    assert app.donor_of(donation)["tribute"] == {"kind": "memory", "name": "Giovanni Bianchi"}  # type: ignore[index]
    receipts = Receipts(app)
    [number] = receipts.issue([GIFT.source_key], date(2016, 10, 2)).issued
    document = receipts.document(number)
    assert document.tribute == {"kind": "memory", "name": "Giovanni Bianchi"}
    assert document.amount_cents == 2564
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(receipt_pdf(document, Foundation.from_env({})))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "In memoria di Giovanni Bianchi" in " ".join(text.split())


def test_a_gift_recorded_before_fees_and_towns_reads_with_none() -> None:
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.start_campaign("c", "Campagna", 100_000)
    app.record_gift(GIFT)
    [stored] = app.recorder.select_events(GIFT.donation_id)
    state = json.loads(stored.state)
    state.pop("covered_fee_cents"), state.pop("public_place")
    state["class_version"] = 2
    event = app.mapper.to_domain_event(replace(stored, state=json.dumps(state).encode()))
    assert isinstance(event, Donation.Received)
    assert (event.covered_fee_cents, event.public_place, event.amount_cents) == (0, "", 2564)
