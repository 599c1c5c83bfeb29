"""Read models applied a batch at a time hold exactly the rows that applying the same events
one by one gives, whatever the history and wherever the batches split it."""

import functools
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.gift import PENDING, Gift
from ledger.identity import DonorDetails
from ledger.payments import CONFIRMED, FAILED, PaymentNotice
from projections import registry
from projections import runner as runner_module
from projections.runner import Projection, ProjectionRunner
from projections.store import LedgerStore, read_models
from tests.helpers import start_campaigns

CAMPAIGN = "fare-legami-anni-2-3"
DAY = date(2017, 3, 1)
# A few people, each known by some of their keys, so that gifts join, and link donors.
EMAILS = ("anna@example.org", "bruno@example.org", "carla@example.org")
PHONES = ("+39 333 1234567", "+39 347 7654321")


def one_by_one(projection: Projection) -> Projection:
    """The same read model, applying each event on its own through `apply`: the reference."""
    projection.apply_batch = functools.partial(Projection.apply_batch, projection)  # type: ignore[method-assign]
    return projection


def dump(store: LedgerStore) -> dict[str, list[tuple[Any, ...]]]:
    tables = [table for projection in read_models() for table in projection.tables]
    with store.database.reading() as session:
        return {
            table: sorted(session.query(f"SELECT * FROM {table}"), key=repr) for table in tables
        }


gift_steps = st.tuples(
    st.just("gift"),
    st.sampled_from((None, *EMAILS)),
    st.sampled_from((None, *PHONES)),
    st.integers(1, 50_000),
    st.integers(0, 3),  # days after DAY: several gifts of one donor on one day tie on date
    st.booleans(),  # pending (a SEPA debit) or confirmed
    st.booleans(),
    st.booleans(),
)
later_steps = st.tuples(
    st.sampled_from(("confirm", "fail", "refund", "fee", "correct")), st.integers(0, 40)
)
donor_steps = st.tuples(
    st.sampled_from(("merge", "consent", "erase")), st.integers(0, 10), st.integers(0, 10)
)
histories = st.lists(st.one_of(gift_steps, gift_steps, later_steps, donor_steps), max_size=40)


def record(store: LedgerStore, steps: list[tuple[Any, ...]], run: str) -> None:
    """Record the steps through the ledger's commands; a step the ledger refuses is skipped,
    as a person's refused attempt would be."""
    keys: list[str] = []
    for number, step in enumerate(steps):
        kind = step[0]
        try:
            if kind == "gift":
                _kind, email, phone, cents, days, pending, privacy, marketing = step
                key = f"pi_{run}_{number}"
                confirmed = () if pending else (PaymentNotice(CONFIRMED, DAY),)
                store.app.receive_payment(
                    Gift(
                        source_key=key,
                        campaign=CAMPAIGN,
                        amount_cents=cents,
                        value_date=DAY + timedelta(days=days),
                        channel="online",
                        method="sepa_debit" if pending else "card",
                        status=PENDING,
                        details=DonorDetails.parse(
                            first_name="Maria", last_name=f"Rossi{days}", email=email, phone=phone
                        ),
                        privacy_consent=privacy,
                        marketing_consent=marketing,
                    ),
                    *confirmed,
                )
                keys.append(key)
            elif kind in ("confirm", "fail", "refund", "fee", "correct") and keys:
                key = keys[step[1] % len(keys)]
                if kind in ("confirm", "fail"):
                    status = CONFIRMED if kind == "confirm" else FAILED
                    store.app.notify_payment(key, PaymentNotice(status, DAY))
                elif kind == "refund":
                    store.app.refund(key, f"re_{run}_{number}", 100, DAY)
                elif kind == "fee":
                    store.app.record_fee(key, 35 + number, "stripe")
                else:
                    store.app.correct_gift(key, 60_000 + number, DAY, "importo", "staff")
            elif kind in ("merge", "consent", "erase"):
                store.runner.catch_up()
                with store.database.reading() as session:
                    donors = [
                        row[0]
                        for row in session.query(
                            "SELECT donor_id FROM registry_donors WHERE erased = 0 "
                            "AND donor_id NOT LIKE ? ORDER BY first_position",
                            ("erased:%",),
                        )
                    ]
                if not donors:
                    continue
                donor = donors[step[1] % len(donors)]
                if kind == "merge":
                    other = donors[step[2] % len(donors)]
                    store.app.merge_donors(uuid.UUID(donor), uuid.UUID(other), "staff")
                elif kind == "consent":
                    store.app.change_consent(
                        uuid.UUID(donor), True, step[2] % 2 == 0, "modulo", DAY, "staff"
                    )
                else:
                    with store.database.reading() as session:
                        donations, has_tax_code, last = registry.erasure_facts(session, donor)
                    store.app.erase_donor(
                        uuid.UUID(donor),
                        [uuid.UUID(d) for d in donations],
                        has_tax_code,
                        date.fromisoformat(last) if last else None,
                        "richiesta",
                        "admin",
                        True,
                        date(2030, 1, 1),
                    )
        except LedgerError:
            continue


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, batch=st.integers(1, 30))
@example(  # every kind of step, gifts joining and linking donors, within one batch and across
    history=[
        ("gift", EMAILS[0], None, 2_500, 0, False, True, False),
        ("gift", None, PHONES[0], 1_000, 1, True, True, True),
        ("gift", EMAILS[0], PHONES[0], 4_000, 1, False, False, True),
        ("fee", 0),
        ("confirm", 1),
        ("refund", 2),
        ("correct", 0),
        ("gift", EMAILS[1], None, 700, 2, True, True, True),
        ("fail", 3),
        ("gift", None, None, 300, 2, False, True, False),
        ("consent", 0, 1),
        ("gift", EMAILS[1], PHONES[1], 900, 2, False, True, True),
        ("merge", 0, 1),
        ("erase", 0, 0),
        ("gift", EMAILS[2], None, 1_100, 3, False, False, False),
    ],
    batch=2,
)
def test_a_batched_rebuild_equals_applying_every_event_one_by_one(
    store: LedgerStore, history: list[tuple[Any, ...]], batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if (store.app.recorder.max_notification_id() or 0) == 0:
        start_campaigns(store)
    record(store, history, uuid.uuid4().hex[:8])
    reference = ProjectionRunner(store.app, store.database, [one_by_one(p) for p in read_models()])
    reference.rebuild()
    applied_one_by_one = dump(store)
    assert reference.stalls() == []
    for size in (batch, 5000):
        with monkeypatch.context() as patched:
            patched.setattr(runner_module, "BATCH", size)
            store.runner.rebuild()
        assert store.runner.stalls() == []
        assert dump(store) == applied_one_by_one, f"batches of {size}"
