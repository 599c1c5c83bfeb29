"""A donation's rules in memory: confirmation and failure, refunds and disputes within the gift,
corrections, fees, the method learned later; and a receipted gift changing only once voided."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import LedgerApplication
from ledger.donation import Donation
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.gift import CONFIRMED, FAILED, PENDING, Gift
from ledger.money_back import (
    BelowMoneyBackError,
    BeyondTheGiftError,
    NotConfirmedError,
    NothingToCorrectError,
    money_back_waits,
)
from ledger.receipts import Receipts
from tests.helpers import SLUG, bare_donation, named_gift

DAY = date(2016, 9, 1)


def test_a_pending_payment_is_confirmed_or_failed_once_and_never_both() -> None:
    confirmed = bare_donation(status=PENDING)
    confirmed.confirm_payment(DAY)
    confirmed.confirm_payment(DAY)  # resent: nothing new
    assert confirmed.status == CONFIRMED
    with pytest.raises(ConflictError, match="a refund is the way back"):
        confirmed.fail_payment(DAY, "insufficient funds")
    failed = bare_donation(status=PENDING)
    failed.fail_payment(DAY, "insufficient funds")
    failed.fail_payment(DAY, "again")
    assert failed.status == FAILED
    with pytest.raises(ConflictError, match="already failed"):
        failed.confirm_payment(DAY)
    assert [type(e) for e in confirmed.collect_events()][1:] == [Donation.PaymentConfirmed]
    assert [type(e) for e in failed.collect_events()][1:] == [Donation.PaymentFailed]


def test_money_back_before_the_confirmation_says_the_status() -> None:
    pending = bare_donation(status=PENDING)
    with pytest.raises(NotConfirmedError) as refused:
        pending.refund("re_1", 100, DAY)
    assert refused.value.status == PENDING


def test_a_refund_is_recorded_once_per_refund_id_and_beyond_the_gift_says_the_figures() -> None:
    gift_ = bare_donation(5000)
    assert gift_.refund("re_1", 3000, DAY, "richiesta")
    assert not gift_.refund("re_1", 3000, DAY)
    assert not gift_.refund("re_1", 1000, DAY)  # the id is the key, whatever the amount
    with pytest.raises(BeyondTheGiftError) as beyond:
        gift_.refund("re_2", 2001, DAY)
    assert (beyond.value.back_cents, beyond.value.gift_cents) == (5001, 5000)
    assert gift_.refund("re_2", 2000, DAY)
    assert (gift_.refunded_cents, gift_.taken_back_cents) == (5000, 5000)


def test_a_failed_refund_gives_its_room_back() -> None:
    gift_ = bare_donation(5000)
    gift_.refund("re_1", 5000, DAY)
    assert gift_.fail_refund("re_1", DAY)
    assert gift_.refunded_cents == 0
    assert gift_.refund("re_2", 5000, DAY)


def test_a_dispute_opens_once_and_closes_once_won_or_lost() -> None:
    gift_ = bare_donation(5000)
    assert gift_.open_dispute("dp_1", 5000, DAY) and not gift_.open_dispute("dp_1", 5000, DAY)
    with pytest.raises(InvalidInputError, match="won or lost"):
        gift_.close_dispute("dp_1", "withdrawn", 5000, DAY)
    assert gift_.close_dispute("dp_1", "won", 5000, DAY)
    assert not gift_.close_dispute("dp_1", "lost", 5000, DAY)  # decided already
    assert gift_.taken_back_cents == 0
    assert gift_.close_dispute("dp_2", "lost", 1500, DAY)
    assert (gift_.refunded_cents, gift_.taken_back_cents) == (0, 1500)
    assert gift_.disputes == {"dp_1": "won", "dp_2": "lost"}


def test_a_correction_says_why_changes_something_and_stays_above_the_money_back() -> None:
    gift_ = bare_donation(5000)
    gift_.refund("re_1", 2000, DAY)
    with pytest.raises(BelowMoneyBackError):
        gift_.correct(1999, DAY, "errore", "staff")
    with pytest.raises(InvalidInputError) as no_reason:
        gift_.correct(4000, DAY, "  ", "staff")
    assert no_reason.value.fields == {"reason": ["required"]}
    with pytest.raises(NothingToCorrectError):
        gift_.correct(5000, DAY, "errore", "staff")
    gift_.correct(5000, date(2016, 9, 2), " data sbagliata ", "staff")
    gift_.correct(2000, date(2016, 9, 2), "importo sbagliato", "staff")
    assert (gift_.amount_cents, gift_.value_date) == (2000, date(2016, 9, 2))
    corrections = [e for e in gift_.collect_events() if isinstance(e, Donation.Corrected)]
    assert [(c.amount_cents, c.reason, c.by) for c in corrections] == [
        (5000, "data sbagliata", "staff"),
        (2000, "importo sbagliato", "staff"),
    ]
    with pytest.raises(BeyondTheGiftError):  # the corrected amount is the new ceiling
        gift_.refund("re_2", 1, DAY)


def test_a_corrected_gift_resent_as_it_first_came_is_the_same_money() -> None:
    gift_ = bare_donation(5000)
    gift_.correct(4000, date(2016, 9, 2), "errore", "staff")
    first = Gift(
        source_key="stripe:pi_1",
        campaign=SLUG,
        amount_cents=5000,
        value_date=DAY,
        channel="online",
        method="card",
    )
    assert gift_.same_money_as(first)


def test_fees_are_recorded_as_their_latest_total() -> None:
    gift_ = bare_donation(5000)
    assert gift_.record_fee(100, "stripe") and not gift_.record_fee(100, "stripe")
    assert gift_.record_fee(125, "stripe")
    assert gift_.fees_cents == 125
    with pytest.raises(InvalidInputError) as negative:
        gift_.record_fee(-1, "stripe")
    assert set(negative.value.fields) == {"fee"}


def test_only_a_known_method_is_learned() -> None:
    gift_ = bare_donation()
    with pytest.raises(InvalidInputError, match="unknown method"):
        gift_.learn_method("bitcoin")
    assert not gift_.learn_method("card")


def test_money_back_waits_for_the_confirmation_and_for_room_unless_already_known() -> None:
    pending = bare_donation(5000, PENDING)
    assert money_back_waits(pending, "re_1", 100)
    gift_ = bare_donation(5000)
    assert not money_back_waits(gift_, "re_1", 5000)
    assert money_back_waits(gift_, "re_1", 5001)
    gift_.refund("re_1", 5000, DAY)
    assert money_back_waits(gift_, "re_2", 1)
    assert not money_back_waits(gift_, "re_1", 5000)  # known: applying it is a no-op
    gift_.close_dispute("dp_1", "won", 5000, DAY)
    assert not money_back_waits(gift_, "dp_1", 5000)


# Money back as a story: refunds, their failures, lost and won disputes and corrections, against
# a model that knows only the rules (ids are keys, the money back never exceeds the gift).
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["refund", "fail", "lost", "won", "correct"]),
        st.integers(0, 4),
        st.integers(1, 6000),
    ),
    max_size=15,
)


@given(st.integers(1, 10_000), STEPS)
def test_the_money_back_follows_a_model_and_never_exceeds_the_gift(
    amount: int, steps: list[tuple[str, int, int]]
) -> None:
    gift_ = bare_donation(amount)
    refunds: dict[str, int] = {}
    failed: set[str] = set()
    closed: dict[str, int] = {}
    for kind, which, cents in steps:
        back = sum(refunds.values()) + sum(closed.values())
        if kind == "refund":
            ref = f"re_{which}"
            if ref in refunds or ref in failed:
                assert gift_.refund(ref, cents, DAY) is False
            elif back + cents > amount:
                with pytest.raises(BeyondTheGiftError):
                    gift_.refund(ref, cents, DAY)
            else:
                assert gift_.refund(ref, cents, DAY) is True
                refunds[ref] = cents
        elif kind == "fail":
            ref = f"re_{which}"
            assert gift_.fail_refund(ref, DAY) is (ref not in failed)
            refunds.pop(ref, None)
            failed.add(ref)
        elif kind in ("lost", "won"):
            ref = f"dp_{which}"
            if ref in closed or f"won:{ref}" in failed:
                assert gift_.close_dispute(ref, kind, cents, DAY) is False
            elif kind == "lost" and back + cents > amount:
                with pytest.raises(BeyondTheGiftError):
                    gift_.close_dispute(ref, kind, cents, DAY)
            else:
                assert gift_.close_dispute(ref, kind, cents, DAY) is True
                if kind == "lost":
                    closed[ref] = cents
                else:
                    failed.add(f"won:{ref}")
        else:
            if cents < back:
                with pytest.raises(BelowMoneyBackError):
                    gift_.correct(cents, DAY, "errore", "staff")
            elif cents == amount:
                with pytest.raises(NothingToCorrectError):
                    gift_.correct(cents, DAY, "errore", "staff")
            else:
                gift_.correct(cents, DAY, "errore", "staff")
                amount = cents
        expected_back = sum(refunds.values()) + sum(closed.values())
        assert (gift_.amount_cents, gift_.refunded_cents) == (amount, sum(refunds.values()))
        assert gift_.taken_back_cents == expected_back <= gift_.amount_cents


# Through the gift commands, on the in-memory store


@pytest.fixture
def app(memory_app: LedgerApplication) -> LedgerApplication:
    memory_app.start_campaign(SLUG, "Fare Legami", 0, date(2016, 7, 1), date(2017, 6, 30))
    return memory_app


def test_a_resent_gift_is_a_no_op_and_other_figures_under_its_key_conflict(
    app: LedgerApplication,
) -> None:
    assert app.record_gift(named_gift("a"))
    assert not app.record_gift(named_gift("a"))
    with pytest.raises(ConflictError):
        app.record_gift(named_gift("a", 5001))
    with pytest.raises(NotFoundError):
        app.record_gift(
            Gift(
                source_key="b",
                campaign="nessuna",
                amount_cents=1,
                value_date=DAY,
                channel="bank",
                method="bank_transfer",
            )
        )
    for command in (
        lambda: app.refund("nessuno", "re_1", 100, DAY),
        lambda: app.correct_gift("nessuno", 100, DAY, "errore", "staff"),
        lambda: app.record_fee("nessuno", 100, "stripe"),
    ):
        with pytest.raises(NotFoundError):
            command()


def test_a_refund_a_fee_and_a_correction_are_saved_once(app: LedgerApplication) -> None:
    app.record_gift(named_gift("a"))
    assert app.refund("a", "re_1", 1000, DAY) and not app.refund("a", "re_1", 1000, DAY)
    assert app.record_fee("a", 95, "stripe") and not app.record_fee("a", 95, "stripe")
    app.correct_gift("a", 4000, DAY, "errore", "staff")
    saved = app.find_donation("a")
    assert saved is not None
    assert (saved.version, saved.amount_cents, saved.refunded_cents, saved.fees_cents) == (
        4,
        4000,
        1000,
        95,
    )


def test_a_receipted_gift_is_refunded_or_corrected_only_after_its_void(
    app: LedgerApplication,
) -> None:
    app.record_gift(named_gift("a"))
    receipts = Receipts(app)
    assert receipts.issue(["a"], date(2017, 2, 1)).issued == ["2016/000001"]
    with pytest.raises(ConflictError, match="void receipt 2016/000001 first"):
        app.refund("a", "re_1", 2000, DAY)
    with pytest.raises(ConflictError, match="void receipt 2016/000001 first"):
        app.correct_gift("a", 4000, DAY, "errore", "staff")
    receipts.void("2016/000001", "rimborso parziale", "staff", date(2017, 2, 1))
    assert app.refund("a", "re_1", 2000, DAY)
    assert receipts.issue(["a"], date(2017, 2, 1)).issued == ["2016/000002"]
    assert receipts.document("2016/000002").amount_cents == 3000
