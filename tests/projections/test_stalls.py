"""What the ledger accepts can always be projected; an event that cannot be stops one read
model loudly, at its position, until an admin sets it aside (never an edit of history)."""

import contextlib
import uuid
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.campaign import Campaign
from ledger.errors import InvalidInputError, LedgerError, NotFoundError
from ledger.gift import Gift
from ledger.identity import DonorDetails
from projections.database import Session
from projections.reports import progress
from projections.runner import ProjectionRunner
from projections.store import LedgerStore
from projections.totals import CampaignTotals
from tests.helpers import save_unprojectable_gift, start_campaigns

SLUG = "fare-legami-anni-2-3"
DAY = date(2016, 9, 10)


def record(store: LedgerStore, cents: int, key: str | None = None) -> None:
    store.app.record_gift(
        Gift(
            source_key=key or f"test:{uuid.uuid4()}",
            campaign=SLUG,
            amount_cents=cents,
            value_date=DAY,
            channel="bank",
            method="bank_transfer",
        )
    )


def raised(store: LedgerStore) -> int:
    return int(progress(store.database, SLUG, date(2030, 1, 1))[0]["raised_cents"])


def test_an_unprojectable_event_stops_its_read_model_at_its_position(store: LedgerStore) -> None:
    start_campaigns(store)
    record(store, 2500)
    position = save_unprojectable_gift(store)
    record(store, 4000)
    store.app.record_audit("export", "staff@example.org", {"kind": "donors"}, 3)
    store.runner.catch_up()
    (stall,) = store.runner.stalls()
    assert (stall.name, stall.position) == ("campaign_totals", position)
    assert stall.topic == "ledger.donation:Donation.Received"
    assert ("OverflowError" in stall.reason) or ("out of range" in stall.reason), stall.reason
    # The events before it are applied, the read model waits at the one before it, and the
    # other read models go on: the audit trail saw the export recorded after it.
    assert raised(store) == 2500
    with store.database.reading() as session:
        assert (
            session.scalar(
                "SELECT position FROM projection_positions WHERE name = ?", ("campaign_totals",)
            )
            == position - 1
        )
        assert session.scalar("SELECT COUNT(*) FROM audit_view") == 1
    # Later catch-ups (every page) neither fail nor apply anything more to it.
    assert store.runner.catch_up() == 0
    assert store.runner.catch_up(retry_stalled=True) == 0
    assert [s.position for s in store.runner.stalls()] == [position]


def test_setting_the_event_aside_lets_the_read_model_go_on_and_survives_a_rebuild(
    store: LedgerStore,
) -> None:
    start_campaigns(store)
    record(store, 2500)
    position = save_unprojectable_gift(store)
    record(store, 4000)
    store.runner.catch_up()
    assert (
        store.app.set_aside_event(
            position, "importo impossibile\r\nregistrato nel 2016", "cli:admin"
        )
        is True
    )
    assert store.app.set_aside_event(position, "again", "cli:admin") is False
    store.runner.catch_up()
    assert store.runner.stalls() == []
    assert raised(store) == 6500
    # The event is still in the store, unchanged: history is never edited.
    donation = store.app.find_donation("legacy:overflow")
    assert donation is not None and donation.amount_cents == 2**63
    store.runner.rebuild()
    assert store.runner.stalls() == []
    assert raised(store) == 6500


def test_only_a_recorded_event_can_be_set_aside_and_with_a_reason(store: LedgerStore) -> None:
    start_campaigns(store)
    position = save_unprojectable_gift(store)
    with pytest.raises(NotFoundError):
        store.app.set_aside_event(position + 1, "not there", "cli:admin")
    with pytest.raises(NotFoundError):
        store.app.set_aside_event(0, "not there", "cli:admin")
    with pytest.raises(InvalidInputError):
        store.app.set_aside_event(position, "  ", "cli:admin")
    with pytest.raises(InvalidInputError):
        store.app.set_aside_event(position, "nul\x00", "cli:admin")
    store.app.set_aside_event(position, "overflow", "cli:admin")
    with pytest.raises(InvalidInputError):
        store.app.set_aside_event(store.app.recorder.max_notification_id(), "loop", "cli:admin")


class Picky(CampaignTotals):
    """A read model whose error message carries the hostile text it was given."""

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, Campaign.Started) and "\x00" in event.name:
            raise ValueError("cannot store " + event.name)
        super().apply(session, event, position)


def test_the_reason_of_a_stall_is_one_printable_line(store: LedgerStore) -> None:
    store.app.save(Campaign("nul", "Fare\x00Legami\n", 0, None, None))
    runner = ProjectionRunner(store.app, store.database, [Picky()])
    runner.catch_up()
    (stall,) = runner.stalls()
    assert (stall.position, stall.reason) == (1, "ValueError: cannot store Fare\\x00Legami\\x0a")


# Whatever the ledger accepts can be projected, on both stores.

# Mostly what people type, sometimes anything at all (NUL, escapes, lone surrogates, 2**70).
any_text = st.one_of(
    st.just(""), st.text(st.characters(codec="utf-8"), max_size=12), st.text(max_size=12)
)
amounts = st.one_of(
    st.integers(min_value=1, max_value=100_000_000), st.integers(min_value=-5, max_value=2**70)
)
dates = st.one_of(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2026, 1, 1)),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)),
)


@st.composite
def raw_gifts(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "amount_cents": draw(amounts),
        "value_date": draw(dates),
        "donors": draw(st.one_of(st.just(1), st.integers(min_value=-1, max_value=2**40))),
        "stand": draw(any_text),
        "details": {
            name: draw(any_text)
            for name in draw(
                st.lists(
                    st.sampled_from(
                        ("first_name", "last_name", "organization", "address", "postcode", "city")
                    ),
                    max_size=3,
                    unique=True,
                )
            )
        },
        "email": draw(st.one_of(st.just(""), st.emails(), any_text)),
        "place": draw(any_text),
        "campaign_name": draw(any_text),
    }


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(raw_gifts(), min_size=1, max_size=6))
def test_whatever_the_ledger_accepts_every_read_model_can_apply(
    store: LedgerStore, inputs: list[dict[str, Any]]
) -> None:
    start_campaigns(store)
    store.runner.catch_up()
    before = raised(store)
    accepted = 0
    for raw in inputs:
        try:
            details = DonorDetails.parse(email=raw["email"], **raw["details"])
            gift = Gift(
                source_key=f"test:{uuid.uuid4()}",
                campaign=SLUG,
                amount_cents=raw["amount_cents"],
                value_date=raw["value_date"],
                channel="other",
                method="cash",
                donors=raw["donors"] if not details.has_any_personal_data else 1,
                details=details,
                privacy_consent=True,
                stand=raw["stand"],
            )
            store.app.record_gift(gift)
            if gift.value_date <= date(2030, 1, 1):
                accepted += gift.amount_cents
        except LedgerError:
            pass
        with contextlib.suppress(LedgerError):
            store.app.open_stand(
                SLUG, raw["place"] or "-", "Cremona", "Cremona", raw["value_date"], ["Anna"]
            )
        with contextlib.suppress(LedgerError):
            store.app.start_campaign(
                f"c-{uuid.uuid4().hex[:8]}",
                raw["campaign_name"] or "-",
                raw["amount_cents"] if raw["amount_cents"] >= 0 else 0,
            )
    store.runner.catch_up()
    assert store.runner.stalls() == []
    assert raised(store) - before == accepted
