"""One database transaction that stays open while events are appended to it batch by batch."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

Append = Callable[[Sequence[StoredEvent]], None]


@contextmanager
def one_transaction(recorder: ApplicationRecorder) -> Iterator[Append]:
    """Yield `append(stored_events)`; everything appended commits together when the block ends
    and is rolled back if it raises (or the process dies: the database never saw a commit).

    eventsourcing 9.5 commits once per `insert_events()` call and offers nothing public for a
    transaction that spans calls, so this opens the recorder's own `datastore.transaction` and
    writes through the method that `insert_events()` itself runs inside it. That is the
    narrowest internal surface there is: the same SQL, the same table lock and NOTIFY on
    PostgreSQL (taken at the first append and held until the commit, so the notification
    order stays the commit order), the same error translation. A new library version that
    renames these methods fails here loudly, not silently.
    """
    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:

            def append_sqlite(events: Sequence[StoredEvent]) -> None:
                if events:
                    recorder._insert_events(cursor, events)  # noqa: SLF001

            yield append_sqlite
    elif isinstance(recorder, PostgresApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as pg_cursor:

            def append_postgres(events: Sequence[StoredEvent]) -> None:
                if events:
                    recorder._insert_stored_events(pg_cursor, events)  # noqa: SLF001

            yield append_postgres
    else:
        # The in-memory store of tests and notebooks: hold the events, insert them at once.
        pending: list[StoredEvent] = []
        yield pending.extend
        recorder.insert_events(pending)
