"""The running sums per day give exactly the figures counted again from every gift: a random
history (gifts of every channel and status, tallies, confirmations, failures, refunds and their
failures, lost disputes, fees, corrections, donors joined by a shared key or merged by staff)
on both stores, compared as of random days."""

import itertools
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.gift import CHANNELS, CONFIRMED, DISTRICTS, PENDING, Gift
from ledger.identity import DonorDetails
from ledger.payments import CONFIRMED as PAYMENT_CONFIRMED
from ledger.payments import DISPUTE_CLOSED, REFUND_FAILED, REFUNDED, PaymentNotice
from ledger.payments import FAILED as PAYMENT_FAILED
from projections.reports import (
    campaign_progress,
    list_campaigns,
    raised_over_time,
    recount_progress,
    recount_raised_over_time,
)
from projections.store import LedgerStore

START = date(2025, 11, 20)
DAYS = 75  # three months and more, over a new year: sums of a whole year, months and days
EXAMPLES = itertools.count()

days = st.integers(min_value=0, max_value=DAYS).map(lambda n: START + timedelta(days=n))
# Few people, each with an e-mail and a phone: a gift naming one's e-mail and another's
# phone joins the two donors.
people = st.integers(min_value=0, max_value=5)

gift_step = st.fixed_dictionaries(
    {
        "step": st.just("gift"),
        "campaign": st.integers(min_value=0, max_value=1),
        "day": days,
        "channel": st.sampled_from(CHANNELS),
        "district": st.sampled_from(("", *DISTRICTS)),
        "amount": st.integers(min_value=1000, max_value=50_000),
        "who": st.one_of(
            st.none(),
            st.tuples(people, st.one_of(st.none(), people)),
        ),
        "tally": st.integers(min_value=1, max_value=30),
        "pending": st.sampled_from((False, False, True)),
    }
)
# What happens to one gift, in turn: the same refund may then fail, a fee change, and so on.
notice_step = st.fixed_dictionaries(
    {
        "step": st.just("notices"),
        "kinds": st.lists(
            st.sampled_from(
                ("confirm", "fail", "refund", "refund", "refund_failed", "dispute", "fee")
                + ("correct", "refund_then_failed")
            ),
            min_size=1,
            max_size=4,
        ),
        "gift": st.integers(min_value=0, max_value=60),
        "day": days,
        "amount": st.integers(min_value=1, max_value=2_000),
        "reference": st.integers(min_value=0, max_value=1),
    }
)
merge_step = st.fixed_dictionaries(
    {
        "step": st.just("merge"),
        "donor": st.integers(min_value=0, max_value=20),
        "into": st.integers(min_value=0, max_value=20),
    }
)


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Some gifts, and what happens to them, in any order (a notice before its gift is lost)."""
    steps = draw(st.lists(gift_step, min_size=5, max_size=25)) + draw(
        st.lists(st.one_of(notice_step, notice_step, notice_step, merge_step), max_size=40)
    )
    return draw(st.permutations(steps))


def _details(who: tuple[int, int | None]) -> DonorDetails:
    email, phone = who
    return DonorDetails.parse(
        first_name="Anna",
        email=f"p{email}@example.org",
        phone=f"+39 333 000 000{phone}" if phone is not None else "",
    )


def _play(store: LedgerStore, example: int, steps: list[dict[str, Any]]) -> None:
    slugs = [f"h{example}-c{n}" for n in range(2)]
    for slug in slugs:
        store.app.start_campaign(slug, slug, 100_000)
    keys: list[str] = []
    for number, step in enumerate(steps):
        try:
            if step["step"] == "gift":
                key = f"h{example}:{number}"
                identified = step["who"] is not None
                store.app.record_gift(
                    Gift(
                        source_key=key,
                        campaign=slugs[step["campaign"]],
                        amount_cents=step["amount"],
                        value_date=step["day"],
                        channel=step["channel"],
                        method="card",
                        donors=1 if identified else step["tally"],
                        details=_details(step["who"]) if identified else DonorDetails(),
                        district=step["district"],
                        status=PENDING if step["pending"] else CONFIRMED,
                    )
                )
                keys.append(key)
            elif step["step"] == "merge":
                _merge(store, step["donor"], step["into"])
            elif keys:
                for turn, kind in enumerate(step["kinds"]):
                    _notify(store, keys[step["gift"] % len(keys)], kind, turn, step)
        except LedgerError:
            pass  # refused by the ledger's rules (a refund before the payment…): nothing written


def _notify(store: LedgerStore, key: str, kind: str, turn: int, step: dict[str, Any]) -> None:
    # Refund and dispute ids are the provider's, unique across gifts.
    day, amount, reference = step["day"], step["amount"] + turn, f"r{step['reference']}-{key}"
    if kind == "confirm":
        store.app.notify_payment(key, PaymentNotice(PAYMENT_CONFIRMED, day))
    elif kind == "fail":
        store.app.notify_payment(key, PaymentNotice(PAYMENT_FAILED, day, reason="no"))
    elif kind == "refund":
        store.app.notify_payment(key, PaymentNotice(REFUNDED, day, reference, amount))
    elif kind == "refund_then_failed":
        store.app.notify_payment(key, PaymentNotice(REFUNDED, day, reference + "b", amount))
        store.app.notify_payment(key, PaymentNotice(REFUND_FAILED, day, reference + "b"))
    elif kind == "refund_failed":
        store.app.notify_payment(key, PaymentNotice(REFUND_FAILED, day, reference))
    elif kind == "dispute":
        store.app.notify_payment(
            key, PaymentNotice(DISPUTE_CLOSED, day, f"d{reference}", amount, outcome="lost")
        )
    elif kind == "fee":
        store.app.record_fee(key, amount % 500, "stripe")
    else:
        store.app.correct_gift(key, amount, day, "wrong amount", "staff")


def _merge(store: LedgerStore, donor: int, into: int) -> None:
    store.runner.catch_up()
    with store.database.reading() as session:
        donors = [
            row[0]
            for row in session.query(
                "SELECT donor_id FROM registry_donors WHERE erased = 0 ORDER BY first_position"
            )
        ]
    if len(donors) >= 2:
        store.app.merge_donors(
            UUID(donors[donor % len(donors)]), UUID(donors[into % len(donors)]), "staff"
        )


def _assert_same_figures(store: LedgerStore, as_of: list[date]) -> None:
    store.runner.catch_up()
    with store.database.reading() as session:
        campaigns = list_campaigns(session)
        for campaign, day in itertools.product(campaigns, as_of):
            assert campaign_progress(session, campaign, day) == recount_progress(
                session, campaign, day
            ), (campaign.slug, day)
    for campaign in campaigns:
        assert raised_over_time(store.database, campaign.slug) == recount_raised_over_time(
            store.database, campaign.slug
        )


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=histories(), as_of=st.lists(days, min_size=1, max_size=4))
def test_running_sums_equal_the_figures_counted_again(
    store: LedgerStore, steps: list[dict[str, Any]], as_of: list[date]
) -> None:
    _play(store, next(EXAMPLES), steps)
    # Before anything, the last day of a year and the first of the next (the history spans
    # both: whole years, whole months and days all count), and long after everything, too.
    edges = [START - timedelta(days=1), date(2025, 12, 31), date(2026, 1, 1), date(2030, 1, 1)]
    _assert_same_figures(store, [*as_of, *edges])


def test_a_merge_moves_a_new_donor_to_the_day_of_the_older_first_gift(store: LedgerStore) -> None:
    store.app.start_campaign("m", "m", 100_000)
    for key, day, email in (("a", START, "a@example.org"), ("b", START + timedelta(3), "b@x.org")):
        store.app.record_gift(
            Gift(key, "m", 1000, day, "online", "card", details=DonorDetails.parse(email=email))
        )
    store.runner.catch_up()
    with store.database.reading() as session:
        [campaign] = list_campaigns(session)
        assert campaign_progress(session, campaign, START + timedelta(3))["contacts"] == 2
    _merge(store, 1, 0)
    store.runner.catch_up()
    with store.database.reading() as session:
        for day, contacts in ((START - timedelta(1), 0), (START, 1), (START + timedelta(3), 1)):
            assert campaign_progress(session, campaign, day)["contacts"] == contacts
            assert recount_progress(session, campaign, day)["contacts"] == contacts
