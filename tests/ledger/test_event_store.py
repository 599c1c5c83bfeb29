"""What an import stores is what eventsourcing itself would store, byte for byte."""

from datetime import UTC, date, datetime
from uuid import uuid4

import eventsourcing.domain
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import LedgerApplication
from ledger.donation import Donation
from ledger.event_store import one_transaction
from projections.store import LedgerStore

RECEIVED = {
    "source_key": "csv:SYN-0000001",
    "campaign": "fare-legami-anni-2-3",
    "amount_cents": 2_500,
    "donors": 1,
    "identified": True,
    "channel": "online",
    "method": "card",
    "value_date": date(2017, 3, 1),
    "district": "Crema",
    "stand": "",
    "status": "confirmed",
    "sealed_donor": "bm9uY2U=",
    "instalment": "",
    "covered_fee_cents": 0,
    "public_place": "",
}


def test_a_received_event_made_without_its_aggregate_is_stored_as_the_aggregates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moment = datetime(2026, 11, 26, 21, 0, 0, 123_456, tzinfo=UTC)
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: moment)
    mapper = LedgerApplication().mapper
    donation = Donation(**RECEIVED)
    [created] = donation.collect_events()
    direct = Donation.received_event(donation.id, **RECEIVED)
    assert mapper.to_stored_event(direct) == mapper.to_stored_event(created)
    rebuilt = direct.mutate(None)
    assert isinstance(rebuilt, Donation)
    assert vars(rebuilt) == vars(donation)


def test_events_written_in_one_transaction_read_back_byte_for_byte(store: LedgerStore) -> None:
    """States with every byte value, quotes, backslashes, braces and commas (what a composite
    in an array escapes), an empty one and a large one; topics with quotes and accents."""
    states = [
        bytes(range(256)),
        b'{"a":"\\"quoted\\" \\\\ back,slash","b":[1,2]}',
        b"",
        b"\x00" * 3 + "città è già".encode(),
        bytes(range(256)) * 400,
    ]
    events = [
        StoredEvent(uuid4(), version, f'ledger.test:Odd"Topic,{version}è', state)
        for state in states
        for version in (1, 2)
    ]
    recorder = store.app.recorder
    with one_transaction(recorder) as append:
        append(events[:4])
        append(events[4:])
    for written in events:
        [read] = recorder.select_events(written.originator_id)
        assert (read.originator_id, read.originator_version, read.topic, bytes(read.state)) == (
            written.originator_id,
            written.originator_version,
            written.topic,
            written.state,
        )
