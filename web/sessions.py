"""Sign-in sessions kept on the server: the cookie carries a random id, and the database says
whether that session still holds (not signed out, not idle too long, not too old)."""

import hashlib
import secrets
import time

from projections.database import Database

# Writing `seen` at most once a minute keeps a page view to one read.
TOUCH_SECONDS = 60
SCHEMA = """CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    started DOUBLE PRECISION NOT NULL,
    seen DOUBLE PRECISION NOT NULL
)"""


def now() -> float:
    return time.time()


def _digest(session_id: str) -> str:
    # Only a hash is stored: a copy of the table cannot be replayed as cookies.
    return hashlib.sha256(session_id.encode()).hexdigest()


def create_table(database: Database) -> None:
    with database.schema_lock(), database.transaction() as session:
        session.execute(SCHEMA)


def start(database: Database, user_id: str, idle_seconds: int, max_seconds: int) -> str:
    """A new session for `user_id`; returns its id for the cookie. Sessions past their time
    are cleared on the way."""
    session_id = secrets.token_urlsafe(32)
    moment = now()
    with database.transaction() as sql:
        sql.execute(
            "DELETE FROM web_sessions WHERE seen < ? OR started < ?",
            (moment - idle_seconds, moment - max_seconds),
        )
        sql.execute(
            "INSERT INTO web_sessions (id_hash, user_id, started, seen) VALUES (?, ?, ?, ?)",
            (_digest(session_id), user_id, moment, moment),
        )
    return session_id


def holds(
    database: Database, session_id: str, user_id: str, idle_seconds: int, max_seconds: int
) -> bool:
    """True while the session is open for `user_id`; an expired one is ended here."""
    moment, key = now(), _digest(session_id)
    with database.reading() as sql:
        row = sql.one("SELECT user_id, started, seen FROM web_sessions WHERE id_hash = ?", (key,))
    if row is None or row[0] != user_id:
        return False
    if moment - row[2] > idle_seconds or moment - row[1] > max_seconds:
        end(database, session_id)
        return False
    if moment - row[2] > TOUCH_SECONDS:
        with database.transaction() as sql:
            sql.execute("UPDATE web_sessions SET seen = ? WHERE id_hash = ?", (moment, key))
    return True


def end(database: Database, session_id: str) -> None:
    with database.transaction() as sql:
        sql.execute("DELETE FROM web_sessions WHERE id_hash = ?", (_digest(session_id),))
