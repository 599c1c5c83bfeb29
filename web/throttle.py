"""Failed sign-ins, counted in the database so that every worker sees them: past the limit,
the next attempt is refused for a while without even checking the password."""

import time

from projections.database import Database

WINDOW_SECONDS = 15 * 60
PER_ACCOUNT = 5
PER_ADDRESS = 20
SCHEMA = """CREATE TABLE IF NOT EXISTS login_failures (
    account TEXT NOT NULL,
    address TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
)"""


def create_table(database: Database) -> None:
    with database.schema_lock(), database.transaction() as session:
        session.execute(SCHEMA)


def seconds_blocked(database: Database, account: str, address: str) -> int:
    """0 when a sign-in may be tried now, else how long to wait."""
    since = time.time() - WINDOW_SECONDS
    with database.reading() as session:
        by_account = session.query(
            "SELECT at FROM login_failures WHERE account = ? AND at > ? ORDER BY at",
            (account, since))
        by_address = session.query(
            "SELECT at FROM login_failures WHERE address = ? AND at > ? ORDER BY at",
            (address, since))
    waits = [int(rows[-limit][0] + WINDOW_SECONDS - time.time()) + 1
             for rows, limit in ((by_account, PER_ACCOUNT), (by_address, PER_ADDRESS))
             if len(rows) >= limit]
    return max(waits, default=0)


def record_failure(database: Database, account: str, address: str) -> None:
    with database.transaction() as session:
        session.execute("DELETE FROM login_failures WHERE at < ?",
                        (time.time() - WINDOW_SECONDS,))
        session.execute("INSERT INTO login_failures (account, address, at) VALUES (?, ?, ?)",
                        (account, address, time.time()))


def forget(database: Database, account: str) -> None:
    with database.transaction() as session:
        session.execute("DELETE FROM login_failures WHERE account = ?", (account,))
