"""The audit page's read model: every export, access request and erasure, newest first."""

import json
from typing import Any

from ledger.audit import AuditEntry
from projections.database import Session
from projections.runner import Projection


class AuditTrail(Projection):
    name = "audit"
    version = 1
    tables = ("audit_view",)
    handles = (AuditEntry.Recorded,)

    def create_tables(self, session: Session) -> None:
        session.execute("""CREATE TABLE audit_view (
            position BIGINT PRIMARY KEY,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            who TEXT NOT NULL,
            details TEXT NOT NULL,
            rows_count INTEGER NOT NULL
        )""")

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, AuditEntry.Recorded):
            session.execute(
                "INSERT INTO audit_view (position, at, action, who, details, rows_count) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    position,
                    event.timestamp.isoformat(timespec="seconds"),
                    event.action,
                    event.who,
                    json.dumps(event.details, ensure_ascii=False, sort_keys=True),
                    event.rows,
                ),
            )


def audit_entries(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    columns = ("at", "action", "who", "details", "rows_count")
    rows = session.query(
        f"SELECT {', '.join(columns)} FROM audit_view ORDER BY position DESC LIMIT ?", (limit,)
    )
    return [{**dict(zip(columns, row, strict=True)), "details": json.loads(row[3])} for row in rows]
