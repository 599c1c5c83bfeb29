"""The thank-you mail outbox: which mails the events ask for, and every attempt to send them.

The outbox rows are a read model (rebuilt from the events like any other); the attempts are
not: they record what really left, so they live in a table no rebuild drops, and a rebuilt
outbox never sends a mail twice.
"""

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ledger.donation import Donation
from ledger.gift import CONFIRMED
from ledger.mail import ReceiptMailRequested, thanked_by_mail
from projections.database import Database, Session
from projections.runner import Projection

DUE, WAITING, CANCELLED = "due", "waiting", "cancelled"
SENDING, SENT, FAILED, SKIPPED = "sending", "sent", "failed", "skipped"
MAX_ATTEMPTS = 8

ATTEMPTS = (
    """CREATE TABLE IF NOT EXISTS mail_attempts (
    mail_key TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (mail_key, attempt)
)""",
    """CREATE TABLE IF NOT EXISTS mail_start (
    one INTEGER PRIMARY KEY,
    position BIGINT NOT NULL
)""",
)


class Outbox(Projection):
    """A thank-you for each confirmed online gift that gets one (once per gift; see
    ledger.mail.thanked_by_mail), and each re-send asked for in the back office."""

    name = "mail_outbox"
    version = 1
    tables = ("mail_outbox",)

    def create_tables(self, session: Session) -> None:
        for statement in ATTEMPTS:  # kept across rebuilds: not in `tables`
            session.execute(statement)
        session.execute("""CREATE TABLE mail_outbox (
            mail_key TEXT PRIMARY KEY,
            position BIGINT NOT NULL,
            kind TEXT NOT NULL,
            donation_id TEXT NOT NULL,
            receipt_number TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            requested_at TEXT NOT NULL
        )""")

    def apply_batch(self, session: Session, events: Sequence[tuple[int, Any]]) -> None:
        """The batch's new mails (and their gifts' confirmations) are gathered in memory and
        written at once; anything else goes through `apply`."""
        mails: dict[str, list[Any]] = {}
        for position, event in events:
            mail = _mail_row(event, position)
            if mail is not None:
                if mail[0] in mails:  # asked twice: the database says what it thinks
                    _write_mails(session, mails)
                mails[mail[0]] = mail
                continue
            if isinstance(event, Donation.PaymentConfirmed | Donation.PaymentFailed):
                waiting = mails.get(f"thanks:{event.originator_id}")
                if waiting is not None:
                    if waiting[5] == WAITING:
                        confirmed = isinstance(event, Donation.PaymentConfirmed)
                        waiting[5] = DUE if confirmed else CANCELLED
                    continue
            self.apply(session, event, position)
        _write_mails(session, mails)

    def apply(self, session: Session, event: Any, position: int) -> None:
        """One event at a time: the reference `apply_batch` must agree with."""
        mail = _mail_row(event, position)
        if mail is not None:
            _write_mails(session, {mail[0]: mail})
        elif isinstance(event, Donation.PaymentConfirmed | Donation.PaymentFailed):
            session.execute(
                "UPDATE mail_outbox SET status = ? WHERE mail_key = ? AND status = ?",
                (
                    DUE if isinstance(event, Donation.PaymentConfirmed) else CANCELLED,
                    f"thanks:{event.originator_id}",
                    WAITING,
                ),
            )


MAIL_ROW = (
    "mail_key",
    "position",
    "kind",
    "donation_id",
    "receipt_number",
    "status",
    "requested_at",
)


def _mail_row(event: Any, position: int) -> list[Any] | None:
    """The outbox row an event asks for (MAIL_ROW), if any."""
    if isinstance(event, Donation.Received) and thanked_by_mail(event):
        donation_id = str(event.originator_id)
        return [
            "thanks:" + donation_id,
            position,
            "thanks",
            donation_id,
            "",
            DUE if event.status == CONFIRMED else WAITING,
            event.timestamp.isoformat(),
        ]
    if isinstance(event, ReceiptMailRequested.Requested):
        return [
            f"resend:{event.originator_id}",
            position,
            "resend",
            event.donation_id,
            event.number,
            DUE,
            event.timestamp.isoformat(),
        ]
    return None


def _write_mails(session: Session, mails: dict[str, list[Any]]) -> None:
    """Insert the gathered mails and forget them."""
    session.insert_rows("mail_outbox", MAIL_ROW, list(mails.values()))
    mails.clear()


def backoff(failures: int, base_seconds: float) -> timedelta:
    """1, 2, 4, 8 … times the base, at most six hours between two tries."""
    return timedelta(seconds=min(base_seconds * 2 ** max(failures - 1, 0), 6 * 3600))


class MailAttempts:
    """Claims and outcomes of sending; a claim is an INSERT on (mail, attempt), so two
    senders never send the same attempt."""

    def __init__(self, database: Database, head: int) -> None:
        self.database = database
        with database.transaction() as session:
            for statement in ATTEMPTS:
                session.execute(statement)
            # Mails asked for before the first sender started are history, not news.
            if session.one("SELECT 1 FROM mail_start WHERE one = 1") is None:
                session.execute("INSERT INTO mail_start (one, position) VALUES (1, ?)", (head,))

    def due(self, now: datetime, base_seconds: float) -> list[dict[str, Any]]:
        with self.database.reading() as session:
            start = session.scalar("SELECT position FROM mail_start WHERE one = 1", default=0)
            rows = session.query(
                "SELECT o.mail_key, o.kind, o.donation_id, o.receipt_number, "
                "COUNT(a.attempt), MAX(a.at), SUM(CASE WHEN a.outcome <> ? THEN 1 ELSE 0 END) "
                "FROM mail_outbox o LEFT JOIN mail_attempts a ON a.mail_key = o.mail_key "
                "WHERE o.status = ? AND o.position > ? GROUP BY o.mail_key, o.kind, "
                "o.donation_id, o.receipt_number, o.position ORDER BY o.position",
                (FAILED, DUE, start),
            )
        due = []
        for key, kind, donation_id, number, tries, last, final in rows:
            if final or tries >= MAX_ATTEMPTS:
                continue  # sent, skipped, being sent, or given up: staff decide
            if tries and datetime.fromisoformat(last) + backoff(tries, base_seconds) > now:
                continue
            due.append(
                {
                    "mail_key": key,
                    "kind": kind,
                    "donation_id": donation_id,
                    "receipt_number": number,
                    "attempt": int(tries) + 1,
                }
            )
        return due

    def claim(self, mail_key: str, attempt: int, now: datetime) -> bool:
        try:
            with self.database.transaction() as session:
                if session.one(
                    "SELECT 1 FROM mail_attempts WHERE mail_key = ? AND attempt = ?",
                    (mail_key, attempt),
                ):
                    return False
                session.execute(
                    "INSERT INTO mail_attempts (mail_key, attempt, at, outcome) "
                    "VALUES (?, ?, ?, ?)",
                    (mail_key, attempt, now.isoformat(), SENDING),
                )
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            return False  # another sender's claim won the race
        return True

    def finish(self, mail_key: str, attempt: int, outcome: str, detail: str = "") -> None:
        with self.database.transaction() as session:
            session.execute(
                "UPDATE mail_attempts SET outcome = ?, detail = ? WHERE "
                "mail_key = ? AND attempt = ?",
                (outcome, detail[:500], mail_key, attempt),
            )


def mail_status(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The back office's view: each mail with its last attempt, newest first."""
    rows = session.query(
        "SELECT o.mail_key, o.kind, o.donation_id, o.receipt_number, o.status, o.requested_at, "
        "(SELECT COUNT(*) FROM mail_attempts a WHERE a.mail_key = o.mail_key), "
        "(SELECT a.outcome FROM mail_attempts a WHERE a.mail_key = o.mail_key ORDER BY "
        "a.attempt DESC LIMIT 1), (SELECT a.detail FROM mail_attempts a WHERE "
        "a.mail_key = o.mail_key ORDER BY a.attempt DESC LIMIT 1), (SELECT a.at FROM "
        "mail_attempts a WHERE a.mail_key = o.mail_key ORDER BY a.attempt DESC LIMIT 1) "
        "FROM mail_outbox o ORDER BY o.position DESC LIMIT ?",
        (limit,),
    )
    names = (
        "mail_key",
        "kind",
        "donation_id",
        "receipt_number",
        "status",
        "requested_at",
        "attempts",
        "outcome",
        "detail",
        "last_at",
    )
    return [dict(zip(names, row, strict=True)) for row in rows]


def mail_attempts(session: Session, mail_key: str) -> list[dict[str, Any]]:
    names = ("attempt", "at", "outcome", "detail")
    return [
        dict(zip(names, row, strict=True))
        for row in session.query(
            "SELECT attempt, at, outcome, detail FROM mail_attempts WHERE mail_key = ? "
            "ORDER BY attempt",
            (mail_key,),
        )
    ]
