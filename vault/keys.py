"""The per-gift keys that seal personal data, in a table of their own outside the event store."""

import base64
from collections.abc import Iterable
from uuid import UUID

from projections.database import Database, Session

# Every table of the vault: no read model may own one, so no rebuild or version change drops it.
TABLES = ("personal_keys",)

SCHEMA = """CREATE TABLE IF NOT EXISTS personal_keys (
    subject TEXT PRIMARY KEY,
    secret TEXT NOT NULL
)"""


def fetch_keys(session: Session, subjects: Iterable[UUID]) -> dict[UUID, bytes]:
    """The keys still held for `subjects`, read inside the caller's transaction."""
    found: dict[UUID, bytes] = {}
    for condition, params in session.matching("subject", [str(s) for s in subjects]):
        rows = session.query(f"SELECT subject, secret FROM personal_keys WHERE {condition}", params)
        found.update({UUID(subject): base64.b64decode(secret) for subject, secret in rows})
    return found


class SQLKeyVault:
    """Implements ledger.privacy.KeyVault on the ledger's database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        with database.transaction() as session:
            session.execute(SCHEMA)

    def keys_for(self, subjects: Iterable[UUID]) -> dict[UUID, bytes]:
        with self.database.reading() as session:
            return fetch_keys(session, subjects)

    def store(self, keys: dict[UUID, bytes]) -> dict[UUID, bytes]:
        rows = [(str(s), base64.b64encode(k).decode("ascii")) for s, k in keys.items()]
        with self.database.transaction() as session:
            if session.dialect != "postgresql":
                session.executemany(
                    "INSERT INTO personal_keys (subject, secret) VALUES (?, ?) "
                    "ON CONFLICT (subject) DO NOTHING",
                    rows,
                )
                return fetch_keys(session, keys)
            # One statement for the batch (a statement a key cost a large import more than
            # sealing); only the subjects that had a key already are read back.
            stored = session.query(
                "INSERT INTO personal_keys (subject, secret) "
                "SELECT * FROM unnest(?::text[], ?::text[]) "
                "ON CONFLICT (subject) DO NOTHING RETURNING subject",
                [[subject for subject, _ in rows], [secret for _, secret in rows]],
            )
            new = {UUID(subject) for (subject,) in stored}
            held = fetch_keys(session, [s for s in keys if s not in new])
            return {s: k for s, k in keys.items() if s in new} | held

    def destroy(self, subjects: Iterable[UUID]) -> int:
        destroyed = 0
        with self.database.transaction() as session:
            for subject in subjects:
                if session.one("SELECT 1 FROM personal_keys WHERE subject = ?", (str(subject),)):
                    session.execute("DELETE FROM personal_keys WHERE subject = ?", (str(subject),))
                    destroyed += 1
        return destroyed
