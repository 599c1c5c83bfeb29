"""Backup and restore of what cannot be rebuilt: the events, the key vault's keys and the
webhook inbox (deliveries acknowledged to Stripe, which Stripe will not send again).

A backup is a SQLite file of its own, whichever store it came from, so a backup of the
PostgreSQL ledger restores on a laptop's SQLite and back. The read models are not in it: a
restore rebuilds them from the events.
"""

import base64
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.errors import InvalidInputError, LedgerError
from projections.store import LedgerStore
from vault.inbox import COLUMNS as INBOX_COLUMNS

FORMAT = "fondo-backup-2"
# Older backups restore too: fondo-backup-1 predates the inbox (it has no deliveries).
READABLE = (FORMAT, "fondo-backup-1")

SCHEMA = (
    "CREATE TABLE backup_info (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE events (position INTEGER PRIMARY KEY, originator_id TEXT NOT NULL, "
    "originator_version INTEGER NOT NULL, topic TEXT NOT NULL, state BLOB NOT NULL)",
    "CREATE TABLE personal_keys (subject TEXT PRIMARY KEY, secret TEXT NOT NULL)",
    "CREATE TABLE stripe_inbox (event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, "
    "payload TEXT NOT NULL, received_at REAL NOT NULL, status TEXT NOT NULL, "
    "attempts INTEGER NOT NULL, not_before REAL NOT NULL, reason TEXT NOT NULL, "
    "settled_at REAL)",
)


@dataclass(frozen=True)
class BackupSummary:
    events: int
    keys: int
    deliveries: int = 0


def _events_sql(store: LedgerStore) -> str:
    """The event store's own table, read in the order the events were recorded."""
    recorder = store.app.recorder
    table: str = recorder.events_table_name  # type: ignore[attr-defined]
    if store.database.dialect == "sqlite":
        return (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
            "ORDER BY rowid"
        )
    return (
        f"SELECT notification_id, originator_id, originator_version, topic, state "
        f"FROM {table} ORDER BY notification_id"
    )


def back_up(
    store: LedgerStore, target: Path, on_keys_read: Callable[[], None] | None = None
) -> BackupSummary:
    """Copy the events and the keys, as they stood at one instant, into `target`.

    Both are read from one snapshot while writers carry on: a gift recorded meanwhile is
    either wholly in the backup (its key and its events) or not at all. The file is written
    beside `target` and renamed into place, so a failed backup leaves no half-written file.
    `on_keys_read` runs between the two reads (tests record a gift there).
    """
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    copy = sqlite3.connect(partial)
    try:
        for statement in SCHEMA:
            copy.execute(statement)
        with store.database.snapshot() as snapshot:
            keys = 0
            for row in snapshot.rows("SELECT subject, secret FROM personal_keys"):
                copy.execute("INSERT INTO personal_keys VALUES (?, ?)", row)
                keys += 1
            if on_keys_read is not None:
                on_keys_read()
            events = 0
            for position, originator, version, topic, state in snapshot.rows(_events_sql(store)):
                copy.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                    (position, str(originator), version, topic, bytes(state)),
                )
                events += 1
            deliveries = 0
            for row in snapshot.rows(f"SELECT {', '.join(INBOX_COLUMNS)} FROM stripe_inbox"):
                copy.execute(
                    f"INSERT INTO stripe_inbox VALUES ({', '.join('?' for _ in INBOX_COLUMNS)})",
                    row,
                )
                deliveries += 1
        copy.executemany(
            "INSERT INTO backup_info VALUES (?, ?)",
            [
                ("format", FORMAT),
                ("taken_at", datetime.now(UTC).isoformat()),
                ("events", str(events)),
                ("keys", str(keys)),
                ("deliveries", str(deliveries)),
            ],
        )
        copy.commit()
    except BaseException:
        copy.close()
        partial.unlink(missing_ok=True)
        raise
    copy.close()
    os.replace(partial, target)
    return BackupSummary(events, keys, deliveries)


def _open_backup(source: Path) -> sqlite3.Connection:
    if not source.is_file():
        raise InvalidInputError(f"no such backup file: {source}")
    backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        info = dict(backup.execute("SELECT name, value FROM backup_info").fetchall())
    except sqlite3.DatabaseError:
        backup.close()
        raise InvalidInputError(f"{source} is not a Fondo backup") from None
    if info.get("format") not in READABLE:
        backup.close()
        raise InvalidInputError(
            f"{source} is a backup of another format ({info.get('format')!r}, expected {FORMAT!r})"
        )
    return backup


def restore(
    store: LedgerStore, source: Path, progress: Callable[[int, int], None] | None = None
) -> BackupSummary:
    """Put a backup into an empty ledger, then rebuild every read model from its events.

    The keys go in first and the events in one transaction after them; if the events cannot
    be written, the keys are taken out again, so the ledger is left as empty as it was.
    """
    backup = _open_backup(source)
    try:
        if store.app.recorder.max_notification_id():
            raise LedgerError(
                "restore needs an empty database: this one already has events "
                "(create a new database and point LEDGER_DATABASE_URL at it)"
            )
        keys = {
            UUID(subject): base64.b64decode(secret)
            for subject, secret in backup.execute("SELECT subject, secret FROM personal_keys")
        }
        deliveries = (
            backup.execute(
                f"SELECT {', '.join(INBOX_COLUMNS)} FROM stripe_inbox ORDER BY received_at"
            ).fetchall()
            if dict(backup.execute("SELECT name, value FROM backup_info"))["format"] == FORMAT
            else []
        )
        events = [
            StoredEvent(
                originator_id=UUID(originator),
                originator_version=version,
                topic=topic,
                state=bytes(state),
            )
            for originator, version, topic, state in backup.execute(
                "SELECT originator_id, originator_version, topic, state FROM events "
                "ORDER BY position"
            )
        ]
    finally:
        backup.close()
    if store.app.vault.keys_for(keys):
        raise LedgerError("restore needs an empty database: this one already holds keys")
    if not store.inbox.is_empty():
        raise LedgerError("restore needs an empty database: this one already holds deliveries")
    store.app.vault.store(keys)
    try:
        store.app.recorder.insert_events(events)
    except BaseException:
        store.app.vault.destroy(keys)
        raise
    # Deliveries last: a pending one applies after the restore (`ledger inbox`), an applied
    # one makes its resend a no-op as before.
    store.inbox.restore(deliveries)
    store.runner.rebuild(progress=progress)
    return BackupSummary(len(events), len(keys), len(deliveries))
