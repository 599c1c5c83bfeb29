"""Runs the read models: catch up once, keep following, or rebuild everything from the events."""

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import Notification

from ledger.application import LedgerApplication
from projections.database import TRANSIENT_ERRORS, Database, Session

BATCH = 500

POSITIONS = """CREATE TABLE IF NOT EXISTS projection_positions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position BIGINT NOT NULL
)"""


class Projection(ABC):
    """A read model: it owns its tables and applies events to them, nothing else writes them."""

    name: str
    version: int
    tables: tuple[str, ...]

    @abstractmethod
    def create_tables(self, session: Session) -> None:
        """CREATE TABLE statements for this version."""

    def prepare(self, session: Session, events: Sequence[Any]) -> None:  # noqa: B027
        """Called once per batch before `apply`, to fetch in bulk what the batch needs."""

    @abstractmethod
    def apply(self, session: Session, event: Any, position: int) -> None:
        """Apply one domain event; unknown events are ignored."""

    def drop_tables(self, session: Session) -> None:
        for table in self.tables:
            session.execute(f"DROP TABLE IF EXISTS {table}")


class ProjectionRunner:
    """Applies events to each projection with its tracking position in the same transaction."""

    def __init__(self, app: LedgerApplication, database: Database,
                 projections: Sequence[Projection]) -> None:
        self.app = app
        self.database = database
        self.projections = list(projections)

    def setup(self) -> None:
        """Create missing tables; a projection whose version changed is rebuilt from scratch."""
        for projection in self.projections:
            with self.database.transaction() as session:
                session.execute(POSITIONS)
                row = session.one("SELECT version FROM projection_positions WHERE name = ?",
                                  (projection.name,))
                if row is not None and row[0] == projection.version:
                    continue
                projection.drop_tables(session)
                projection.create_tables(session)
                session.execute("DELETE FROM projection_positions WHERE name = ?",
                                (projection.name,))
                session.execute(
                    "INSERT INTO projection_positions (name, version, position) VALUES (?, ?, 0)",
                    (projection.name, projection.version),
                )

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop every read model and build it again from the events."""
        with self.database.transaction() as session:
            session.execute(POSITIONS)
            for projection in self.projections:
                projection.drop_tables(session)
            session.execute("DELETE FROM projection_positions")
        self.setup()
        return self.catch_up(progress=progress)

    def lag(self) -> int:
        """How many notifications the slowest projection still has to apply."""
        head = self.app.recorder.max_notification_id() or 0
        with self.database.reading() as session:
            lowest = session.scalar("SELECT MIN(position) FROM projection_positions", default=0)
        return max(0, head - lowest)

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every event committed before this call; returns how many were applied."""
        head = self.app.recorder.max_notification_id() or 0
        with self.database.reading() as session:
            positions: dict[str, int] = dict(
                session.query("SELECT name, position FROM projection_positions"))
        applied = 0
        for projection in self.projections:
            # Up to date already: no write lock taken (pages call this on every request).
            if positions.get(projection.name, 0) >= head:
                continue
            while True:
                done = self._apply_batch(projection, head)
                if not done:
                    break
                applied += done
                if progress is not None:
                    progress(applied, head)
        return applied

    def _apply_batch(self, projection: Projection, head: int) -> int:
        with self.database.transaction(pipeline=True) as session:
            lock = " FOR UPDATE" if session.dialect == "postgresql" else ""
            position = session.scalar(
                f"SELECT position FROM projection_positions WHERE name = ?{lock}",
                (projection.name,), default=0,
            )
            if position >= head:
                return 0
            notifications = self.app.recorder.select_notifications(
                start=position + 1, limit=BATCH, stop=head
            )
            if not notifications:
                return 0
            events = [self._decode(n) for n in notifications]
            projection.prepare(session, events)
            for notification, event in zip(notifications, events, strict=True):
                projection.apply(session, event, notification.id)
            session.execute("UPDATE projection_positions SET position = ? WHERE name = ?",
                            (notifications[-1].id, projection.name))
            return len(notifications)

    def _decode(self, notification: Notification) -> Any:
        return self.app.mapper.to_domain_event(notification)

    def follow(self, interval: float = 0.25, stop: Callable[[], bool] = lambda: False) -> None:
        """Keep catching up until `stop()` says so; safe to run in several processes at once."""
        while not stop():
            try:
                applied = self.catch_up()
            except TRANSIENT_ERRORS as error:
                # Each batch committed with its position: the next round resumes from there.
                logging.getLogger(__name__).warning("database unavailable, retrying: %s", error)
                applied = 0
            if applied == 0:
                time.sleep(interval)
