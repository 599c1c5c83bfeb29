"""Payment rules: money leaves a gift only once it arrived, never twice, never for a failed refund;
notices reach the gift of their payment whatever the order."""

import itertools
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ConflictError
from ledger.gift import FAILED, PENDING
from ledger.payments import CONFIRMED as PAYMENT_CONFIRMED
from ledger.payments import (
    DISPUTE_CLOSED,
    METHOD,
    REFUND_FAILED,
    REFUNDED,
    PaymentNotice,
)
from ledger.payments import FAILED as PAYMENT_FAILED
from projections.store import LedgerStore
from tests.helpers import bare_donation, figures, gift, start_campaigns

DAY = date(2016, 9, 1)


def test_a_refund_known_as_failed_before_it_arrives_never_counts() -> None:
    gift_ = bare_donation(5000)
    assert gift_.fail_refund("re_1", DAY)
    assert not gift_.refund("re_1", 5000, DAY)
    assert not gift_.fail_refund("re_1", DAY)
    assert (gift_.refunded_cents, gift_.taken_back_cents) == (0, 0)


@pytest.mark.parametrize("status", [PENDING, FAILED])
def test_no_refund_nor_lost_dispute_before_the_payment_is_confirmed(status: str) -> None:
    gift_ = bare_donation(5000, PENDING)
    if status == FAILED:
        gift_.fail_payment(DAY, "bank said no")
    with pytest.raises(ConflictError):
        gift_.refund("re_1", 1000, DAY)
    with pytest.raises(ConflictError):
        gift_.close_dispute("dp_1", "lost", 1000, DAY)
    assert gift_.close_dispute("dp_2", "won", 1000, DAY)  # no money moves when it is won
    assert gift_.taken_back_cents == 0


takebacks = st.lists(
    st.tuples(st.sampled_from(["refund", "dispute"]), st.integers(min_value=1, max_value=6000)),
    max_size=8,
)


@given(amount=st.integers(min_value=1, max_value=10_000), steps=takebacks)
def test_refunds_and_lost_disputes_together_never_exceed_the_gift(
    amount: int, steps: list[tuple[str, int]]
) -> None:
    gift_ = bare_donation(amount)
    expected = 0
    for number, (kind, cents) in enumerate(steps):
        fits = expected + cents <= amount
        try:
            if kind == "refund":
                gift_.refund(f"re_{number}", cents, DAY)
            else:
                gift_.close_dispute(f"dp_{number}", "lost", cents, DAY)
        except ConflictError:
            assert not fits
        else:
            assert fits
            expected += cents
    assert gift_.taken_back_cents == expected <= amount


def test_the_method_learned_later_does_not_make_a_resent_gift_differ() -> None:
    gift_ = bare_donation(5000)
    assert gift_.learn_method("sepa_debit") and not gift_.learn_method("sepa_debit")
    assert gift_.method == "sepa_debit"
    assert gift_.same_money_as(gift("stripe:pi_1", 5000, method="card"))


def test_a_refund_of_a_pending_debit_waits_for_its_confirmation(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.receive_payment(gift("stripe:pi_sepa", 7000, method="sepa_debit", status=PENDING))
    refund = PaymentNotice(REFUNDED, DAY, "re_1", 2000)
    assert not store.app.notify_payment("stripe:pi_sepa", refund)
    assert (figures(store)["raised_cents"], figures(store)["refunded_cents"]) == (0, 0)
    store.app.notify_payment("stripe:pi_sepa", PaymentNotice(PAYMENT_CONFIRMED, DAY))
    got = figures(store)
    assert (got["raised_cents"], got["refunded_cents"]) == (5000, 2000)


def test_a_failed_debit_takes_nothing_back_from_raised(store: LedgerStore) -> None:
    start_campaigns(store)
    store.app.receive_payment(
        gift("stripe:pi_ko", 4000, method="sepa_debit", status=PENDING),
        PaymentNotice(PAYMENT_FAILED, DAY, reason="insufficient funds"),
    )
    store.app.notify_payment("stripe:pi_ko", PaymentNotice(REFUNDED, DAY, "re_1", 4000))
    store.app.notify_payment(
        "stripe:pi_ko", PaymentNotice(DISPUTE_CLOSED, DAY, "dp_1", 4000, outcome="lost")
    )
    got = figures(store)
    assert (got["raised_cents"], got["refunded_cents"], got["disputed_cents"]) == (0, 0, 0)


def test_a_refund_that_fits_only_after_an_earlier_one_failed_waits_for_that_failure(
    store: LedgerStore,
) -> None:
    start_campaigns(store)
    store.app.receive_payment(gift("stripe:pi_full", 5000))
    assert store.app.notify_payment("stripe:pi_full", PaymentNotice(REFUNDED, DAY, "re_a", 5000))
    # Stripe accepted re_b after re_a failed; its notice overtook the failure's.
    assert not store.app.notify_payment(
        "stripe:pi_full", PaymentNotice(REFUNDED, DAY, "re_b", 4000)
    )
    assert figures(store)["refunded_cents"] == 5000
    store.app.notify_payment("stripe:pi_full", PaymentNotice(REFUND_FAILED, DAY, "re_a"))
    got = figures(store)
    assert (got["raised_cents"], got["refunded_cents"]) == (1000, 4000)


def play_monthly_step(store: LedgerStore, step: str, number: int) -> None:
    """One delivery of a monthly payment's story: the invoice's gift, the InvoicePayment's
    link, and notices that name only the payment."""
    invoice, intent = f"stripe:in_{number}", f"stripe:pi_{number}"
    if step == "invoice":
        store.app.receive_payment(gift(invoice, 1500))
    elif step == "link":
        store.app.link_payment(intent, invoice)
    elif step == "refund":
        store.app.notify_payment(intent, PaymentNotice(REFUNDED, DAY, f"re_{number}", 500))
    elif step == "failed":
        store.app.notify_payment(intent, PaymentNotice(REFUND_FAILED, DAY, f"re_f{number}"))
    else:
        store.app.notify_payment(intent, PaymentNotice(METHOD, DAY, "sepa_debit"))


@pytest.mark.slow
def test_notices_for_a_monthly_payment_reach_its_invoice_gift_in_any_order(
    store: LedgerStore,
) -> None:
    start_campaigns(store)
    orders = list(itertools.permutations(["invoice", "link", "refund", "method", "failed"]))
    for number, order in enumerate(orders):
        for step in order:
            play_monthly_step(store, step, number)
        month = store.app.find_donation(f"stripe:in_{number}")
        assert month is not None and store.app.find_donation(f"stripe:pi_{number}") is None
        assert (month.refunded_cents, month.method, month.failed_refunds) == (
            500,
            "sepa_debit",
            {f"re_f{number}"},
        )
    got = figures(store)
    assert (got["gifts"], got["raised_cents"], got["refunded_cents"]) == (
        len(orders),
        len(orders) * 1000,
        len(orders) * 500,
    )


@settings(max_examples=25, deadline=None)
@given(
    order=st.permutations(["refund-created", "refund-failed"]),
    repeats=st.integers(min_value=1, max_value=3),
)
def test_a_failed_refund_never_counts_whatever_the_order(order: list[str], repeats: int) -> None:
    gift_ = bare_donation(3000)
    for step in order * repeats:
        if step == "refund-created":
            gift_.refund("re_1", 3000, DAY)
        else:
            gift_.fail_refund("re_1", DAY)
    assert gift_.refunded_cents == 0
