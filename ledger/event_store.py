"""The event store adapter, the one module of ledger/ that reaches below eventsourcing's public
surface: one transaction that stays open while events are appended batch by batch, and which of
many aggregates are recorded, asked in one query (the library asks one aggregate at a time)."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import Cursor
from psycopg.adapt import PyFormat
from psycopg.sql import SQL, Identifier

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

    On PostgreSQL the events go to the server in binary: psycopg sends an array of composites
    as text by default, escaping every byte of every state twice (as bytea hex, then inside
    the record and the array), which cost a large import more than building the events. The
    same statement and the same stored bytes, only the wire format differs, and only for this
    transaction's own cursor.
    """
    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:

            def append_sqlite(events: Sequence[StoredEvent]) -> None:
                if events:
                    recorder._insert_events(cursor, events)  # noqa: SLF001

            yield append_sqlite
    elif isinstance(recorder, PostgresApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as pg_cursor:
            _send_binary(pg_cursor, recorder)

            def append_postgres(events: Sequence[StoredEvent]) -> None:
                if events:
                    recorder._insert_stored_events(pg_cursor, events)  # noqa: SLF001

            yield append_postgres
    else:
        # The in-memory store of tests and notebooks: hold the events, insert them at once.
        pending: list[StoredEvent] = []
        yield pending.extend
        recorder.insert_events(pending)


def _send_binary(cursor: Cursor[Any], recorder: PostgresApplicationRecorder) -> None:
    """Make `%s` dump lists and stored-event records in binary on this cursor alone (the
    cursor's adapters are its own copy of the connection's; the pooled connection is left
    as it was)."""
    record = recorder.datastore.psycopg_python_types.get(recorder.stored_event_type_name)
    if record is None:
        return  # no composite type registered: the library's own insert says what is missing
    for python_type in (list, record):
        cursor.adapters.register_dumper(
            python_type, cursor.adapters.get_dumper(python_type, PyFormat.BINARY)
        )


def recorded_ids(recorder: ApplicationRecorder, ids: Sequence[UUID]) -> set[UUID]:
    """Which of `ids` have events recorded: one query per call instead of one per id (the
    check of a large import asks this for every row)."""
    if not ids:
        return set()
    if isinstance(recorder, SQLiteApplicationRecorder):
        marks = ",".join("?" * len(ids))
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "  # noqa: S608
                f"WHERE originator_id IN ({marks})",
                [i.hex for i in ids],
            )
            return {UUID(row[0]) for row in cursor.fetchall()}
    if isinstance(recorder, PostgresApplicationRecorder):
        datastore = recorder.datastore
        as_text = datastore.originator_id_type == "text"
        statement = SQL(
            "SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)"
        ).format(schema=Identifier(datastore.schema), table=Identifier(recorder.events_table_name))
        with datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, ([str(i) for i in ids] if as_text else list(ids),))
            return {UUID(str(row["originator_id"])) for row in cursor.fetchall()}
    return {i for i in ids if recorder.select_events(i, limit=1)}
