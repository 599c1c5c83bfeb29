"""The webhook inbox: every Stripe delivery acknowledged, kept as it arrived until it is applied.

Like the events, the inbox is input that no rebuild can recreate: a delivery acknowledged to
Stripe is never sent again, so until it is applied to the ledger this row is its only copy.
That is why it lives here in the vault beside the keys, is copied by `ledger backup`, and is
never dropped by a read model's rebuild. Rows stay once applied: Stripe's event id is the
key that makes a resend of an old delivery a no-op.
"""

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from projections.database import Database, Session

PENDING, APPLIED, FAILED = "pending", "applied", "failed"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS stripe_inbox (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    settled_at DOUBLE PRECISION
)""",
    "CREATE INDEX IF NOT EXISTS stripe_inbox_waiting ON stripe_inbox (received_at) "
    "WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS stripe_inbox_failed ON stripe_inbox (received_at) "
    "WHERE status = 'failed'",
)
# The last index SCHEMA creates, found by name: when it exists, everything does.
EXISTS = {
    "postgresql": "SELECT 1 WHERE to_regclass('stripe_inbox_failed') IS NOT NULL",
    "sqlite": "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'stripe_inbox_failed'",
}
COLUMNS = (
    "event_id",
    "event_type",
    "payload",
    "received_at",
    "status",
    "attempts",
    "not_before",
    "reason",
    "settled_at",
)
# A delivery that lost a race or met a database hiccup waits this long before its next try,
# doubled at each attempt up to the last figure.
RETRY_SECONDS = (0.2, 60.0)


@dataclass(frozen=True)
class Delivery:
    """One delivery as it waits in the inbox."""

    event_id: str
    event_type: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class FailedDelivery:
    """A delivery that cannot be applied, and why: it waits for a person (`ledger inbox`)."""

    event_id: str
    event_type: str
    reason: str
    received_at: float
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InboxState:
    """What /healthz says of the inbox: how many wait, for how long the oldest has, and how
    many failed."""

    pending: int
    retrying: int
    failed: int
    oldest_pending_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Inbox:
    """The inbox table on the ledger's database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # Claims hold their rows' locks on a connection of their own while the ledger writes
        # on others (the key vault's included, whose keys must commit before the events).
        self._claims = Database(database.url)

    def close(self) -> None:
        self._claims.close()

    def create_tables(self) -> None:
        """Create the table and its indexes where missing. Nothing is run once they exist:
        PostgreSQL's CREATE INDEX IF NOT EXISTS locks the table before it looks, which would
        hold up the webhook's inserts each time a process starts."""
        with self.database.reading() as session:
            if session.one(EXISTS[self.database.dialect]) is not None:
                return
        with self.database.transaction() as session:
            for statement in SCHEMA:
                session.execute(statement)

    def receive(self, event_id: str, event_type: str, payload: str) -> bool:
        """Keep a delivery: one statement, committed before the answer; False when the same
        event id was kept before (a resend, whatever its state)."""
        return (
            self.database.write_once(
                "INSERT INTO stripe_inbox (event_id, event_type, payload, received_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                (event_id, event_type, payload, time.time()),
            )
            == 1
        )

    @contextmanager
    def claim(self, limit: int) -> Iterator[tuple[list[Delivery], "Settlement"]]:
        """The oldest deliveries due, and a Settlement recording what became of each, written
        when the block ends. On PostgreSQL the rows are locked until then (other processors
        skip them) and a crash leaves them pending; on SQLite, where a write lock would stop
        the ledger's own writes, they are read without one: two processors may then apply a
        delivery twice, which the ledger's idempotent commands make harmless."""
        now = time.time()
        select = (
            "SELECT event_id, event_type, payload, attempts FROM stripe_inbox "
            "WHERE status = 'pending' AND not_before <= ? ORDER BY received_at LIMIT ?"
        )
        if self.database.dialect == "postgresql":
            with self._claims.transaction() as session:
                rows = session.query(select + " FOR UPDATE SKIP LOCKED", (now, limit))
                settlement = Settlement()
                yield [Delivery(*row) for row in rows], settlement
                settlement.write(session)
            return
        with self.database.reading() as session:
            rows = session.query(select, (now, limit))
        settlement = Settlement()
        yield [Delivery(*row) for row in rows], settlement
        with self.database.transaction() as session:
            settlement.write(session)

    def state(self) -> InboxState:
        now = time.time()
        with self.database.reading() as session:
            pending, retrying, oldest = session.one(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0), "
                "MIN(received_at) FROM stripe_inbox WHERE status = 'pending'"
            ) or (0, 0, None)
            failed = session.scalar(
                "SELECT COUNT(*) FROM stripe_inbox WHERE status = 'failed'", default=0
            )
        return InboxState(
            int(pending),
            int(retrying),
            int(failed),
            round(max(0.0, now - oldest), 3) if oldest is not None else 0.0,
        )

    def failures(self, limit: int = 20) -> list[FailedDelivery]:
        with self.database.reading() as session:
            rows = session.query(
                "SELECT event_id, event_type, reason, received_at, attempts FROM stripe_inbox "
                "WHERE status = 'failed' ORDER BY received_at LIMIT ?",
                (limit,),
            )
        return [FailedDelivery(*row) for row in rows]

    def retry_failed(self, event_id: str | None = None) -> int:
        """Put failed deliveries (one, or all) back in line, once what stopped them is fixed
        (a campaign added, a bug corrected); returns how many."""
        where = "status = 'failed'" + (" AND event_id = ?" if event_id else "")
        with self.database.transaction() as session:
            count = int(
                session.scalar(
                    f"SELECT COUNT(*) FROM stripe_inbox WHERE {where}",
                    (event_id,) if event_id else (),
                    default=0,
                )
            )
            session.execute(
                f"UPDATE stripe_inbox SET status = 'pending', not_before = 0, reason = '' "
                f"WHERE {where}",
                (event_id,) if event_id else (),
            )
        return count

    def rows(self, session: Session) -> list[tuple[Any, ...]]:
        """Every row, for a backup (read inside the backup's snapshot)."""
        return session.query(f"SELECT {', '.join(COLUMNS)} FROM stripe_inbox ORDER BY received_at")

    def restore(self, rows: Sequence[Sequence[Any]]) -> None:
        with self.database.transaction() as session:
            session.executemany(
                f"INSERT INTO stripe_inbox ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in COLUMNS)})",
                rows,
            )

    def is_empty(self) -> bool:
        with self.database.reading() as session:
            return session.one("SELECT 1 FROM stripe_inbox LIMIT 1") is None


class Settlement:
    """What a processor did with the deliveries it claimed, written in one transaction."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.retried: list[tuple[str, int, str]] = []

    def apply(self, delivery: Delivery) -> None:
        self.applied.append(delivery.event_id)

    def fail(self, delivery: Delivery, reason: str) -> None:
        self.failed.append((delivery.event_id, reason))

    def retry(self, delivery: Delivery, reason: str) -> None:
        self.retried.append((delivery.event_id, delivery.attempts + 1, reason))

    def write(self, session: Session) -> None:
        now = time.time()
        first, last = RETRY_SECONDS
        # A whole batch applied is one statement, not one a delivery.
        for condition, params in session.matching("event_id", self.applied):
            session.execute(
                f"UPDATE stripe_inbox SET status = 'applied', settled_at = ? WHERE {condition}",
                [now, *params],
            )
        session.executemany(
            "UPDATE stripe_inbox SET status = 'failed', settled_at = ?, reason = ?, "
            "attempts = attempts + 1 WHERE event_id = ?",
            [(now, reason, event_id) for event_id, reason in self.failed],
        )
        session.executemany(
            "UPDATE stripe_inbox SET attempts = ?, reason = ?, not_before = ? WHERE event_id = ?",
            [
                (attempts, reason, now + min(last, first * 2 ** (attempts - 1)), event_id)
                for event_id, attempts, reason in self.retried
            ],
        )


def recorded_aggregates(database: Database, events_table: str, ids: Sequence[UUID]) -> set[UUID]:
    """Which of `ids` have events in the event store's table, in one query (the processor
    looks for the notices parked for a whole batch of gifts at once)."""
    if not ids:
        return set()
    sqlite = database.dialect == "sqlite"
    values = [i.hex if sqlite else i for i in ids]  # how each recorder stores the ids
    with database.reading() as session:
        rows = session.query(
            f"SELECT DISTINCT originator_id FROM {events_table} WHERE originator_id IN "
            f"({', '.join('?' for _ in values)})",
            values,
        )
    return {row[0] if isinstance(row[0], UUID) else UUID(str(row[0])) for row in rows}
