"""Runs the read models: catch up once, keep following, or rebuild everything from the events."""

import logging
import os
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import psycopg
from eventsourcing.persistence import Notification

from ledger.application import LedgerApplication
from ledger.errors import LedgerError
from projections.database import TRANSIENT_ERRORS, Database, Session

# Events read, decoded and applied per transaction: large enough that a statement per batch
# costs little per event, small enough that a batch's rows fit in memory many times over.
BATCH = int(os.environ.get("LEDGER_PROJECTION_BATCH", "") or 5000)
# While events keep arriving, the batches of read models that do not lead are this part of
# `BATCH` (see `catch_up`): a read model that leads waits a tenth as long for its next turn.
WHILE_ARRIVING = 10
# Separates a read model's name from the tag of its next build in projection_positions.
NEXT = "@"
log = logging.getLogger(__name__)

POSITIONS = """CREATE TABLE IF NOT EXISTS projection_positions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position BIGINT NOT NULL
)"""

# A read model that met an event it cannot apply: it stays at the position before that event
# until the event is set aside (or the read model is retried, rebuilt or given a new version).
STALLS = """CREATE TABLE IF NOT EXISTS projection_stalls (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    since TEXT NOT NULL
)"""

# Failures of the database or the machine rather than of the event: nothing is recorded, the
# error goes up and the same events are tried again by the next catch-up.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    *TRANSIENT_ERRORS,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    OSError,
    MemoryError,
)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class Stall:
    """Where a read model stopped, on which kind of event, and why."""

    name: str
    position: int
    topic: str
    reason: str
    since: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"read model {self.name} stopped at event {self.position} ({self.topic}): {self.reason}"
        )


class ReadModelStalledError(LedgerError):
    """Figures asked of read models that stopped at an event they cannot apply."""

    def __init__(self, stalls: Sequence[Stall]) -> None:
        super().__init__(
            "; ".join(
                f"{stall}; if the event was accepted by mistake: ledger events set-aside "
                f"{stall.position} --reason TEXT"
                for stall in stalls
            )
            + " (README, 'When a read model stalls')"
        )
        self.stalls = list(stalls)


def describe_error(error: BaseException) -> str:
    """One printable line of at most 500 characters: the error's kind and message."""
    text = _UNPRINTABLE.sub(
        lambda found: f"\\x{ord(found.group()):02x}", f"{type(error).__name__}: {error}"
    )
    return text if len(text) <= 500 else text[:499] + "…"


class Projection(ABC):
    """A read model: it owns its tables and applies events to them, nothing else writes them.

    The runner hands it the events a batch at a time (`apply_batch`), each decoded once for
    every read model, in the transaction that also moves its position. A read model
    overrides either `apply_batch`, to gather the batch's changes in memory and write them
    set-based (`Session.insert_rows`, `executemany`), or `apply`, one event at a time (the
    default `apply_batch` calls it for each event after `prepare`): the first is fast, the
    second is simple, and both give the same rows.
    """

    name: str
    version: int
    tables: tuple[str, ...]
    # The event classes `apply` acts on, when the read model says: the default `apply_batch`
    # then hands it only those, so a read model few events concern costs nothing on the rest.
    handles: tuple[type, ...] = ()
    # Cheap read models the public pages read (the campaign totals): `catch_up` brings them up
    # to the newest event before any other read model takes its next batch.
    leads: bool = False

    @abstractmethod
    def create_tables(self, session: Session) -> None:
        """CREATE TABLE statements for this version."""

    def prepare(self, session: Session, events: Sequence[Any]) -> None:  # noqa: B027
        """Called once per batch before `apply`, to fetch in bulk what the batch needs."""

    def apply(self, session: Session, event: Any, position: int) -> None:
        """Apply one domain event; unknown events are ignored."""
        self.apply_batch(session, [(position, event)])

    def apply_batch(self, session: Session, events: Sequence[tuple[int, Any]]) -> None:
        """Apply `(position, event)` pairs in position order, as if one by one."""
        if self.handles:
            events = [
                (position, event) for position, event in events if isinstance(event, self.handles)
            ]
        self.prepare(session, [event for _, event in events])
        for position, event in events:
            self.apply(session, event, position)

    def drop_tables(self, session: Session) -> None:
        for table in self.tables:
            session.execute(f"DROP TABLE IF EXISTS {table}")


@dataclass(frozen=True)
class _Build:
    """Where a batch goes: the serving read model, or its next build beside it.

    A next build is tracked by its own row in projection_positions, named `name@tag`, and
    its tables are the read model's tables with `__tag` appended; the serving tables keep
    their plain names, so every query reads whichever version is active without knowing it.
    """

    row: str
    tag: str = ""

    @classmethod
    def next_of(cls, projection: Projection) -> "_Build":
        return cls.of_row(f"{projection.name}{NEXT}v{projection.version}_{uuid4().hex[:6]}")

    @classmethod
    def of_row(cls, row: str) -> "_Build":
        return cls(row, row.partition(NEXT)[2])

    def session(self, session: Session, projection: Projection) -> Session:
        if not self.tag:
            return session
        return session.renamed({t: f"{t}__{self.tag}" for t in projection.tables}, f"__{self.tag}")


class _Decoded:
    """A batch of notifications read once for every read model, each decoded once; an event
    that cannot be decoded fails only the read models that reach it."""

    def __init__(
        self,
        runner: "ProjectionRunner",
        notifications: Sequence[Notification],
        set_aside: frozenset[int],
        after: int,
    ) -> None:
        self.notifications = list(notifications)
        # The position the read began after: the first notification's id may be further on,
        # since a rolled-back transaction leaves a gap in PostgreSQL's ids.
        self.start = after
        self.last = self.notifications[-1].id if self.notifications else 0
        self._events: dict[int, Any] = {}
        self._pairs: list[tuple[int, Any]] | None = None
        for notification in self.notifications:
            if notification.id in set_aside:
                continue
            try:
                self._events[notification.id] = runner.app.mapper.to_domain_event(notification)
            except Exception as error:  # noqa: BLE001 - raised again where it is applied
                self._events[notification.id] = _Undecodable(error)

    def after(self, position: int) -> list[Notification]:
        return [n for n in self.notifications if n.id > position]

    def domain_events(self, notifications: Sequence[Notification]) -> list[tuple[int, Any]]:
        """The (position, event) pairs to apply: set-aside events are passed over."""
        whole = len(notifications) == len(self.notifications)
        if whole and self._pairs is not None:
            return self._pairs
        pairs = []
        for notification in notifications:
            event = self._events.get(notification.id)
            if isinstance(event, _Undecodable):
                raise event.error
            if event is not None:
                pairs.append((notification.id, event))
        if whole:
            self._pairs = pairs
        return pairs


@dataclass(frozen=True)
class _Undecodable:
    error: Exception


class ProjectionRunner:
    """Applies events to each projection with its tracking position in the same transaction."""

    def __init__(
        self, app: LedgerApplication, database: Database, projections: Sequence[Projection]
    ) -> None:
        for projection in projections:
            kind = type(projection)
            if kind.apply is Projection.apply and kind.apply_batch is Projection.apply_batch:
                raise TypeError(f"{kind.__name__} must override apply or apply_batch")
        self.app = app
        self.database = database
        self.projections = list(projections)
        # Whether events arrived during the last batch of the read models that do not lead.
        self._arriving = False

    def setup(self) -> None:
        """Create missing tables. A read model whose version changed gets its new version built
        beside the one that serves (see `catch_up`), which keeps answering until the swap; a
        read model left by newer code than this is left alone."""
        for projection in self.projections:
            with self.database.transaction() as session:
                session.execute(POSITIONS)
                session.execute(STALLS)
                row = session.one(
                    "SELECT version FROM projection_positions WHERE name = ?", (projection.name,)
                )
                if row is None:
                    # Nothing served yet: build in place.
                    self._discard_next(session, projection)
                    projection.drop_tables(session)
                    projection.create_tables(session)
                    session.execute(
                        "DELETE FROM projection_stalls WHERE name = ?", (projection.name,)
                    )
                    session.execute(
                        "INSERT INTO projection_positions (name, version, position) "
                        "VALUES (?, ?, 0)",
                        (projection.name, projection.version),
                    )
                elif row[0] < projection.version and not self._building(session, projection):
                    self._start_next(session, projection)

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Build every read model again from the events, beside the one that serves, and swap
        each in when it has caught up: the figures stay readable throughout."""
        self.setup()
        for projection in self.projections:
            with self.database.transaction() as session:
                self._start_next(session, projection)
        return self.catch_up(progress=progress)

    def _building(self, session: Session, projection: Projection) -> bool:
        """Whether a next build of this version is under way; one of another version is
        abandoned (its tables dropped)."""
        rows = session.query(
            "SELECT name, version FROM projection_positions WHERE name LIKE ?",
            (f"{projection.name}{NEXT}%",),
        )
        if any(version == projection.version for _, version in rows):
            return True
        self._discard_next(session, projection)
        return False

    def _discard_next(self, session: Session, projection: Projection) -> None:
        for (row,) in session.query(
            "SELECT name FROM projection_positions WHERE name LIKE ?",
            (f"{projection.name}{NEXT}%",),
        ):
            projection.drop_tables(_Build.of_row(row).session(session, projection))
            session.execute("DELETE FROM projection_positions WHERE name = ?", (row,))
            session.execute("DELETE FROM projection_stalls WHERE name = ?", (row,))

    def _start_next(self, session: Session, projection: Projection) -> None:
        self._discard_next(session, projection)
        build = _Build.next_of(projection)
        renamed = build.session(session, projection)
        projection.drop_tables(renamed)
        projection.create_tables(renamed)
        session.execute(
            "INSERT INTO projection_positions (name, version, position) VALUES (?, ?, 0)",
            (build.row, projection.version),
        )

    def _swap(self, projection: Projection, build: _Build, head: int) -> None:
        """In one transaction: the caught-up build replaces the serving tables and their row."""
        with self.database.transaction() as session:
            lock = " FOR UPDATE" if session.dialect == "postgresql" else ""
            position = session.scalar(
                f"SELECT position FROM projection_positions WHERE name = ?{lock}", (build.row,)
            )
            if position is None or position < head:
                return  # swapped by another process already, or not caught up
            session.one(
                f"SELECT 1 FROM projection_positions WHERE name = ?{lock}", (projection.name,)
            )
            projection.drop_tables(session)
            for table in projection.tables:
                session.execute(f"ALTER TABLE {table}__{build.tag} RENAME TO {table}")
            session.execute("DELETE FROM projection_positions WHERE name = ?", (projection.name,))
            session.execute(
                "UPDATE projection_positions SET name = ? WHERE name = ?",
                (projection.name, build.row),
            )
            session.execute("DELETE FROM projection_stalls WHERE name = ?", (projection.name,))
        log.info("read model %s: version %s now serves", projection.name, projection.version)

    def lag(self) -> int:
        """How many notifications the slowest projection still has to apply."""
        head = self.app.recorder.max_notification_id() or 0
        with self.database.reading() as session:
            lowest = session.scalar(
                "SELECT MIN(position) FROM projection_positions WHERE name NOT LIKE ?",
                (f"%{NEXT}%",),
                default=0,
            )
        return max(0, head - lowest)

    def catch_up(
        self, progress: Callable[[int, int], None] | None = None, retry_stalled: bool = False
    ) -> int:
        """Apply every event committed before this call; returns how many were applied.

        A read model whose version changed is built from the first event beside the serving
        one, which keeps answering with the figures it has, and swapped in once caught up.
        A read model that meets an event it cannot apply stops just before it, records why
        (see `stalls`) and waits, while the others go on: pages keep the figures they have. It
        resumes when the event is set aside, or when asked to `retry_stalled`.

        A read model that `leads` goes first in each round, and between two rounds of the
        others it also applies the events committed since this call began.
        """
        head = self.app.recorder.max_notification_id() or 0
        with self.database.reading() as session:
            rows = session.query("SELECT name, version, position FROM projection_positions")
            stalled: dict[str, int] = dict(
                session.query("SELECT name, position FROM projection_stalls")
            )
        versions = {name: (version, position) for name, version, position in rows}
        eligible: list[tuple[Projection, _Build]] = []
        work: list[tuple[Projection, _Build]] = []
        for projection in self.projections:
            builds = [
                _Build.of_row(name)
                for name, (version, _) in versions.items()
                if name.partition(NEXT)[0] == projection.name
                and NEXT in name
                and version == projection.version
            ]
            version, position = versions.get(projection.name, (None, 0))
            if builds:
                work.append((projection, builds[0]))
                eligible.append((projection, builds[0]))
            elif version == projection.version:
                # Only the version this code writes: tables of another wait for their build.
                eligible.append((projection, _Build(projection.name)))
                if position < head:
                    work.append((projection, _Build(projection.name)))
        # Up to date already: no write lock taken (pages call this on every request).
        if not work:
            return 0
        set_aside = self.app.set_aside_positions()
        eligible = [
            (projection, build)
            for projection, build in eligible
            if build.row not in stalled or stalled[build.row] in set_aside or retry_stalled
        ]
        work = [entry for entry in work if entry in eligible]
        applied = 0
        stopped: set[str] = set()

        def passed(done: int) -> None:
            nonlocal applied
            applied += done
            if done and progress is not None:
                progress(applied, head)

        # Each round, the read models that lead apply their part first; the others' rounds
        # are kept short while events keep arriving, and between two of them the leaders
        # catch up with the newest events on their own: they never wait for a long batch.
        work.sort(key=lambda entry: not entry[0].leads)
        while work:
            others = any(not projection.leads for projection, _ in work)
            limit = max(1, BATCH // WHILE_ARRIVING) if others and self._arriving else BATCH
            work = self._round(work, head, set_aside, limit, passed, stopped)
            if not any(not projection.leads for projection, _ in work):
                continue
            newest = self.app.recorder.max_notification_id() or 0
            self._arriving = newest > head
            leading = [
                (projection, build)
                for projection, build in eligible
                if projection.leads and build.row not in stopped
            ]
            while leading and newest > head:
                leading = self._round(leading, newest, set_aside, BATCH, passed, stopped)
        for projection, build in self._builds(head):
            if build.row not in stopped:
                self._swap(projection, build, head)
        return applied

    def _round(
        self,
        work: list[tuple[Projection, _Build]],
        head: int,
        set_aside: frozenset[int],
        limit: int,
        passed: Callable[[int], None],
        stopped: set[str],
    ) -> list[tuple[Projection, _Build]]:
        """One read and one decoding of the next `limit` events before `head` for every read
        model of `work` that needs them; each applies its part in a transaction of its own
        with its position. Returns those still behind `head`."""
        with self.database.reading() as session:
            positions: dict[str, int] = dict(
                session.query(
                    "SELECT name, position FROM projection_positions WHERE name IN "
                    f"({', '.join('?' * len(work))})",
                    [build.row for _, build in work],
                )
            )
        work = [
            (projection, build)
            for projection, build in work
            if build.row in positions and positions[build.row] < head
        ]
        if not work:
            return []
        start = min(positions[build.row] for _, build in work)
        notifications = self.app.recorder.select_notifications(
            start=start + 1, limit=limit, stop=head
        )
        if not notifications:
            return []
        events = _Decoded(self, notifications, set_aside, after=start)
        for projection, build in list(work):
            done, stall = self._apply_batch(projection, build, head, set_aside, events)
            passed(done)
            if stall:
                stopped.add(build.row)
                work.remove((projection, build))
        return work

    def _builds(self, head: int) -> list[tuple[Projection, "_Build"]]:
        """The next builds of this code's versions that have caught up with `head`."""
        with self.database.reading() as session:
            rows = session.query(
                "SELECT name, version, position FROM projection_positions WHERE name LIKE ?",
                (f"%{NEXT}%",),
            )
        by_name = {projection.name: projection for projection in self.projections}
        return [
            (by_name[name.partition(NEXT)[0]], _Build.of_row(name))
            for name, version, position in rows
            if name.partition(NEXT)[0] in by_name
            and version == by_name[name.partition(NEXT)[0]].version
            and position >= head
        ]

    def stalls(self) -> list[Stall]:
        """The read models stopped at an event they cannot apply, with the event and why."""
        with self.database.reading() as session:
            rows = session.query(
                "SELECT name, position, topic, reason, since FROM projection_stalls ORDER BY name"
            )
        return [
            Stall(name, int(position), topic, reason, since)
            for name, position, topic, reason, since in rows
        ]

    def _apply_batch(
        self,
        projection: Projection,
        build: _Build,
        head: int,
        set_aside: frozenset[int],
        events: "_Decoded",
    ) -> tuple[int, bool]:
        """Apply the read model's part of `events`: (events passed, whether it stopped).

        When the batch fails, its events are applied again one per transaction, so that those
        before the culprit are kept and the culprit's position is known exactly."""
        try:
            return self._apply(projection, build, head, set_aside, events, []), False
        except INFRASTRUCTURE:
            raise
        except Exception:
            pass  # some event of the batch cannot be applied: found one at a time below
        applied = 0
        while True:
            selected: list[Notification] = []
            try:
                done = self._apply(projection, build, events.last, set_aside, None, selected)
            except INFRASTRUCTURE:
                raise
            except Exception as error:
                if not selected:
                    raise
                self._record_stall(build, selected[0], error)
                return applied, True
            if not done:
                return applied, False
            applied += done

    def _apply(
        self,
        projection: Projection,
        build: _Build,
        head: int,
        set_aside: frozenset[int],
        events: "_Decoded | None",
        selected: list[Notification],
    ) -> int:
        """In one transaction: the read model's events after its position, from `events` (or
        the next one read from the store when None), its rows and its new position.

        On PostgreSQL the transaction commits without waiting for its WAL to reach the disk
        (`synchronous_commit = off`): a read model is rebuildable, and a server crash can only
        lose the last moments of its progress, rows and position together, which the next
        catch-up applies again. The events, the inbox, the keys and the mail attempts, which
        cannot be rebuilt, keep waiting for the disk.

        Its statements are planned for their very values (`plan_cache_mode`): a statement
        prepared while a read model's table was new and empty keeps a plan that scans the
        table, on the follower's connection, however large the table grows (a follower's
        database work grew with each delivery under load until this)."""
        with self.database.transaction() as session:
            lock = " FOR UPDATE" if session.dialect == "postgresql" else ""
            if session.dialect == "postgresql":
                session.execute(
                    "SELECT set_config('synchronous_commit', 'off', true), "
                    "set_config('plan_cache_mode', 'force_custom_plan', true)"
                )
            position = session.scalar(
                f"SELECT position FROM projection_positions WHERE name = ?{lock}",
                (build.row,),
                default=None,
            )
            if position is None or position >= head:  # None: swapped by another process
                return 0
            if events is None:
                events = _Decoded(
                    self,
                    self.app.recorder.select_notifications(start=position + 1, limit=1, stop=head),
                    set_aside,
                    after=position,
                )
            elif position < events.start:
                return 0  # moved back by a new build meanwhile: the next round reads from there
            notifications = events.after(position)
            if not notifications:
                return 0
            selected.extend(notifications)
            projection.apply_batch(
                build.session(session, projection), events.domain_events(notifications)
            )
            last = notifications[-1].id
            session.execute(
                "UPDATE projection_positions SET position = ? WHERE name = ?", (last, build.row)
            )
            session.execute(
                "DELETE FROM projection_stalls WHERE name = ? AND position <= ?", (build.row, last)
            )
            return len(notifications)

    def _record_stall(self, build: _Build, notification: Notification, error: Exception) -> None:
        stall = Stall(
            build.row,
            notification.id,
            notification.topic,
            describe_error(error),
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        log.error("%s", stall, exc_info=error)
        with self.database.transaction() as session:
            session.execute(
                "INSERT INTO projection_stalls (name, position, topic, reason, since) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "position = excluded.position, topic = excluded.topic, "
                "reason = excluded.reason, since = excluded.since",
                (stall.name, stall.position, stall.topic, stall.reason, stall.since),
            )

    def follow(
        self,
        interval: float = 0.25,
        stop: Callable[[], bool] = lambda: False,
        on_stall: Callable[[Stall], None] | None = None,
    ) -> None:
        """Keep catching up until `stop()` says so; safe to run in several processes at once.
        A read model that stops is reported once to `on_stall`; the others go on."""
        reported: set[tuple[str, int]] = set()
        while not stop():
            try:
                applied = self.catch_up()
                stalls = self.stalls() if on_stall is not None else []
            except TRANSIENT_ERRORS as error:
                # Each batch committed with its position: the next round resumes from there.
                log.warning("database unavailable, retrying: %s", error)
                applied, stalls = 0, []
            for stall in stalls:
                if on_stall is not None and (stall.name, stall.position) not in reported:
                    reported.add((stall.name, stall.position))
                    on_stall(stall)
            if applied == 0:
                time.sleep(interval)
