"""Failed sign-ins, counted in the database so that every worker sees them. Counted per
account *and* address, and per address: an attacker can slow down guesses, but cannot lock
someone out from elsewhere by failing on their account."""

import time

from projections.database import Database

WINDOW_SECONDS = 15 * 60
PER_ACCOUNT_AND_ADDRESS = 5
PER_ADDRESS = 20
SCHEMA = """CREATE TABLE IF NOT EXISTS login_failures (
    account TEXT NOT NULL,
    address TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
)"""


def create_table(database: Database) -> None:
    with database.schema_lock(), database.transaction() as session:
        session.execute(SCHEMA)
        session.execute(
            "CREATE INDEX IF NOT EXISTS login_failures_address ON login_failures (address, account)"
        )


def begin_attempt(database: Database, account: str, address: str) -> int:
    """Reserve one sign-in attempt: 0 when it may go ahead (it then counts as a failure
    until `succeeded` clears it), else the seconds to wait.

    Counting and reserving are one transaction, serialised per address (SQLite's writer lock,
    an advisory lock on PostgreSQL), so workers answering at once cannot all slip under the
    limit."""
    moment = time.time()
    since = moment - WINDOW_SECONDS
    with database.transaction() as session:
        if session.dialect == "postgresql":
            session.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (address,))
        session.execute(
            "DELETE FROM login_failures WHERE address = ? AND at <= ?", (address, since)
        )
        by_pair = session.query(
            "SELECT at FROM login_failures WHERE account = ? AND address = ? ORDER BY at",
            (account, address),
        )
        by_address = session.query(
            "SELECT at FROM login_failures WHERE address = ? ORDER BY at", (address,)
        )
        waits = [
            int(rows[-limit][0] + WINDOW_SECONDS - moment) + 1
            for rows, limit in ((by_pair, PER_ACCOUNT_AND_ADDRESS), (by_address, PER_ADDRESS))
            if len(rows) >= limit
        ]
        if waits:
            return max(waits)
        session.execute(
            "INSERT INTO login_failures (account, address, at) VALUES (?, ?, ?)",
            (account, address, moment),
        )
    return 0


def succeeded(database: Database, account: str, address: str) -> None:
    """A right password from this address: its failures on this account are forgotten."""
    with database.transaction() as session:
        session.execute(
            "DELETE FROM login_failures WHERE account = ? AND address = ?", (account, address)
        )
