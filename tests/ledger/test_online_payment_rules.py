"""Online payments in memory: notices checked where they enter, parked until their gift can take
them, applied once in any order; payment links and monthly gifts."""

from datetime import date

import pytest
from eventsourcing.application import AggregateNotFoundError
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import LedgerApplication
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.gift import CONFIRMED, PENDING, Gift
from ledger.payments import CONFIRMED as PAYMENT_CONFIRMED
from ledger.payments import (
    DISPUTE_CLOSED,
    DISPUTE_OPENED,
    KINDS,
    METHOD,
    REFUND_FAILED,
    REFUNDED,
    ParkedNotices,
    PaymentNotice,
    RecurringGift,
)
from ledger.privacy import MemoryKeyVault

DAY = date(2016, 9, 1)
SLUG = "fare-legami"


def fresh_app() -> LedgerApplication:
    app = LedgerApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=MemoryKeyVault()
    )
    app.start_campaign(SLUG, "Fare Legami", 0, date(2016, 7, 1), date(2017, 6, 30))
    return app


def payment(key: str, amount: int, status: str = CONFIRMED, method: str = "card") -> Gift:
    return Gift(
        source_key=key,
        campaign=SLUG,
        amount_cents=amount,
        value_date=DAY,
        channel="online",
        method=method,
        status=status,
    )


def waiting(app: LedgerApplication, key: str) -> list[PaymentNotice]:
    """The notices still parked under a gift's key (none when none was ever parked)."""
    try:
        parked: ParkedNotices = app.repository.get(ParkedNotices.create_id(key))
    except AggregateNotFoundError:
        return []
    return parked.waiting()


@pytest.fixture
def app(memory_app: LedgerApplication) -> LedgerApplication:
    memory_app.start_campaign(SLUG, "Fare Legami", 0, date(2016, 7, 1), date(2017, 6, 30))
    return memory_app


def test_a_notice_is_checked_where_it_enters() -> None:
    with pytest.raises(InvalidInputError) as kind:
        PaymentNotice("chargeback", DAY)
    assert set(kind.value.fields) == {"kind"}
    with pytest.raises(InvalidInputError) as amount:
        PaymentNotice(REFUNDED, DAY, "re_1", -1)
    assert set(amount.value.fields) == {"amount"}
    with pytest.raises(InvalidInputError) as reference:
        PaymentNotice(REFUNDED, DAY, "re\x001", 100)
    assert set(reference.value.fields) == {"reference"}


notices = st.builds(
    PaymentNotice,
    kind=st.sampled_from(KINDS),
    on=st.dates(date(2015, 1, 1), date(2025, 12, 31)),
    reference=st.text("abc_123", max_size=8),
    amount_cents=st.integers(0, 10**6),
    outcome=st.sampled_from(["", "won", "lost"]),
    reason=st.text("ab \n", max_size=8),
)


@given(notices)
def test_a_notice_reads_back_as_it_was_parked_and_only_money_back_waits(
    notice: PaymentNotice,
) -> None:
    assert PaymentNotice.from_dict(notice.to_dict()) == notice
    assert notice.takes_money_back is (
        notice.kind == REFUNDED or (notice.kind == DISPUTE_CLOSED and notice.outcome == "lost")
    )


def test_parked_notices_wait_once_and_those_kept_at_a_release_wait_again() -> None:
    parked = ParkedNotices("stripe:pi_1")
    first, second = PaymentNotice(PAYMENT_CONFIRMED, DAY), PaymentNotice(REFUNDED, DAY, "re_1", 1)
    parked.park(first.to_dict())
    parked.park(second.to_dict())
    assert parked.waiting() == [first, second] and parked.is_waiting(second)
    parked.release([second])
    assert parked.waiting() == [second] and not parked.is_waiting(first)
    parked.release([])
    assert parked.waiting() == []
    events = len(parked.collect_events())
    parked.release([])  # nothing waiting: nothing recorded
    assert len(parked.collect_events()) == 0 and events == 6


def test_a_notice_before_its_gift_waits_and_applies_when_the_gift_arrives(
    app: LedgerApplication,
) -> None:
    assert not app.notify_payment("stripe:pi_1", PaymentNotice(REFUNDED, DAY, "re_1", 2000))
    assert app.find_donation("stripe:pi_1") is None
    assert app.receive_payment(payment("stripe:pi_1", 5000))
    gift_ = app.find_donation("stripe:pi_1")
    assert gift_ is not None and gift_.refunds == {"re_1": 2000}
    assert waiting(app, "stripe:pi_1") == []


def test_a_refund_of_a_pending_debit_waits_for_its_confirmation(app: LedgerApplication) -> None:
    app.receive_payment(payment("stripe:pi_sepa", 7000, PENDING, "sepa_debit"))
    assert not app.notify_payment("stripe:pi_sepa", PaymentNotice(REFUNDED, DAY, "re_1", 2000))
    pending = app.find_donation("stripe:pi_sepa")
    assert pending is not None and (pending.status, pending.refunded_cents) == (PENDING, 0)
    assert app.notify_payment("stripe:pi_sepa", PaymentNotice(PAYMENT_CONFIRMED, DAY))
    confirmed = app.find_donation("stripe:pi_sepa")
    assert confirmed is not None and (confirmed.status, confirmed.refunded_cents) == (
        CONFIRMED,
        2000,
    )


def test_a_failed_debit_never_gives_money_back(app: LedgerApplication) -> None:
    app.receive_payment(
        payment("stripe:pi_ko", 4000, PENDING, "sepa_debit"),
        PaymentNotice("failed", DAY, reason="insufficient funds"),
    )
    assert not app.notify_payment("stripe:pi_ko", PaymentNotice(REFUNDED, DAY, "re_1", 4000))
    lost = PaymentNotice(DISPUTE_CLOSED, DAY, "dp_1", 4000, outcome="lost")
    assert not app.notify_payment("stripe:pi_ko", lost)
    failed = app.find_donation("stripe:pi_ko")
    assert failed is not None and (failed.status, failed.taken_back_cents) == ("failed", 0)
    with pytest.raises(ConflictError):
        app.notify_payment("stripe:pi_ko", PaymentNotice(PAYMENT_CONFIRMED, DAY))


# One payment's story: a pending debit of € 70, confirmed; refund re_a of € 50 that fails, re_b of
# € 40 that only fits once it has; a lost dispute of € 10; the method learned. Whatever the order
# the gift and its notices arrive in, the gift ends the same.
STORY = ["gift", "confirmed", "re_a", "re_b", "re_a failed", "dispute lost", "dispute opened"]


def play(app: LedgerApplication, step: str) -> None:
    key = "stripe:pi_story"
    notice = {
        "confirmed": PaymentNotice(PAYMENT_CONFIRMED, DAY),
        "re_a": PaymentNotice(REFUNDED, DAY, "re_a", 5000),
        "re_b": PaymentNotice(REFUNDED, DAY, "re_b", 4000),
        "re_a failed": PaymentNotice(REFUND_FAILED, DAY, "re_a"),
        "dispute opened": PaymentNotice(DISPUTE_OPENED, DAY, "dp_1", 1000),
        "dispute lost": PaymentNotice(DISPUTE_CLOSED, DAY, "dp_1", 1000, outcome="lost"),
    }.get(step)
    if notice is None:
        app.receive_payment(payment(key, 7000, PENDING, "sepa_debit"))
    else:
        app.notify_payment(key, notice)


@settings(max_examples=60)
@given(st.permutations(STORY), st.booleans())
def test_notices_in_any_order_leave_the_gift_as_in_order(order: list[str], resend: bool) -> None:
    app = fresh_app()
    for step in order:
        play(app, step)
        if resend:
            play(app, step)
    gift_ = app.find_donation("stripe:pi_story")
    assert gift_ is not None
    assert (gift_.status, gift_.refunds, gift_.failed_refunds) == (
        CONFIRMED,
        {"re_b": 4000},
        {"re_a"},
    )
    assert (gift_.lost_disputes, gift_.taken_back_cents) == ({"dp_1": 1000}, 5000)
    assert waiting(app, "stripe:pi_story") == []


@settings(max_examples=40)
@given(st.permutations(["invoice", "link", "refund", "method", "failed"]))
def test_notices_naming_a_monthly_payment_reach_its_invoice_gift_in_any_order(
    order: list[str],
) -> None:
    app = fresh_app()
    invoice, intent = "stripe:in_1", "stripe:pi_1"
    for step in order:
        if step == "invoice":
            app.receive_payment(payment(invoice, 1500))
        elif step == "link":
            assert app.link_payment(intent, invoice)
        elif step == "refund":
            app.notify_payment(intent, PaymentNotice(REFUNDED, DAY, "re_1", 500))
        elif step == "failed":
            app.notify_payment(intent, PaymentNotice(REFUND_FAILED, DAY, "re_f"))
        else:
            app.notify_payment(intent, PaymentNotice(METHOD, DAY, "sepa_debit"))
    month = app.find_donation(invoice)
    assert month is not None and app.find_donation(intent) is None
    assert (month.refunds, month.method, month.failed_refunds) == (
        {"re_1": 500},
        "sepa_debit",
        {"re_f"},
    )


def test_a_payment_pays_one_gift(app: LedgerApplication) -> None:
    assert app.link_payment("stripe:pi_1", "stripe:in_1")
    assert not app.link_payment("stripe:pi_1", "stripe:in_1")
    with pytest.raises(ConflictError, match="already pays stripe:in_1"):
        app.link_payment("stripe:pi_1", "stripe:in_2")
    assert app.gift_key_for("stripe:pi_1") == "stripe:in_1"
    assert app.gift_key_for("stripe:pi_2") == "stripe:pi_2"


def test_a_monthly_gift_starts_once_and_is_cancelled_once(app: LedgerApplication) -> None:
    with pytest.raises(NotFoundError):
        app.start_recurring("stripe:sub_1", "nessuna", 1500, DAY)
    # The cancellation overtook the start: it starts the gift, then ends it.
    assert app.cancel_recurring("stripe:sub_1", SLUG, 1500, date(2016, 12, 1))
    assert not app.cancel_recurring("stripe:sub_1", SLUG, 1500, date(2017, 1, 1))
    assert not app.start_recurring("stripe:sub_1", SLUG, 1500, DAY)
    monthly: RecurringGift = app.repository.get(
        RecurringGift.create_id("stripe:sub_1", SLUG, 0, DAY)
    )
    assert (monthly.started_on, monthly.cancelled_on, monthly.version) == (
        date(2016, 12, 1),
        date(2016, 12, 1),
        2,
    )
    assert app.start_recurring("stripe:sub_2", SLUG, 2000, DAY)
    assert not app.start_recurring("stripe:sub_2", SLUG, 2000, DAY)


def test_a_settled_debit_takes_its_outcome_whatever_was_first_recorded(
    app: LedgerApplication,
) -> None:
    app.receive_payment(payment("stripe:pi_sepa", 7000, PENDING, "sepa_debit"))
    # A later copy of the session reads the amount differently: the outcome still applies.
    assert not app.settle_payment(
        payment("stripe:pi_sepa", 7100, PENDING, "sepa_debit"),
        PaymentNotice(PAYMENT_CONFIRMED, DAY),
    )
    settled = app.find_donation("stripe:pi_sepa")
    assert settled is not None and (settled.status, settled.amount_cents) == (CONFIRMED, 7000)
    assert app.settle_payment(
        payment("stripe:pi_new", 3000, PENDING, "sepa_debit"),
        PaymentNotice("failed", DAY, reason="insufficient funds"),
    )
    failed = app.find_donation("stripe:pi_new")
    assert failed is not None and failed.status == "failed"


def test_a_batch_of_payments_releases_the_notices_that_waited_for_them(
    app: LedgerApplication,
) -> None:
    app.notify_payment("stripe:pi_1", PaymentNotice(REFUNDED, DAY, "re_1", 1000))
    app.notify_payment("stripe:pi_2", PaymentNotice(METHOD, DAY, "sepa_debit"))
    added = app.receive_payments(
        [payment("stripe:pi_1", 5000), payment("stripe:pi_2", 2000), payment("stripe:pi_1", 5000)]
    )
    assert added == 2
    first, second = app.find_donation("stripe:pi_1"), app.find_donation("stripe:pi_2")
    assert first is not None and first.refunds == {"re_1": 1000}
    assert second is not None and second.method == "sepa_debit"
    assert waiting(app, "stripe:pi_1") == waiting(app, "stripe:pi_2") == []
