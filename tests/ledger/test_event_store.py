"""What an import stores is what eventsourcing itself would store, byte for byte."""

from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from ledger.event_store import one_transaction
from projections.store import LedgerStore


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
