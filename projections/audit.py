"""The audit page's read model: every export, access request, erasure, merge and consent
change, newest first."""

import json
from typing import Any

from ledger.audit import AuditEntry
from ledger.donor import Donor
from projections.database import Session
from projections.runner import Projection


class AuditTrail(Projection):
    name = "audit"
    version = 2
    tables = ("audit_view",)
    handles = (AuditEntry.Recorded, Donor.MergedInto, Donor.Unmerged, Donor.ConsentChanged)

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
            self._record(
                session, position, event, event.action, event.who, event.details, event.rows
            )
        elif isinstance(event, Donor.MergedInto | Donor.Unmerged):
            action = "merge" if isinstance(event, Donor.MergedInto) else "unmerge"
            merge = {"donor": str(event.originator_id), "into": event.other}
            self._record(session, position, event, action, event.by, merge, 1)
        elif isinstance(event, Donor.ConsentChanged):
            details: dict[str, Any] = {
                "donor": str(event.originator_id),
                "privacy": event.privacy,
                "marketing": event.marketing,
                "how": event.how,
                "on": event.on.isoformat(),
            }
            self._record(session, position, event, "consent_change", event.by, details, 1)

    def _record(
        self,
        session: Session,
        position: int,
        event: Any,
        action: str,
        who: str,
        details: dict[str, Any],
        rows: int,
    ) -> None:
        session.execute(
            "INSERT INTO audit_view (position, at, action, who, details, rows_count) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                position,
                event.timestamp.isoformat(timespec="seconds"),
                action,
                who,
                json.dumps(details, ensure_ascii=False, sort_keys=True),
                rows,
            ),
        )


def audit_entries(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    columns = ("at", "action", "who", "details", "rows_count")
    rows = session.query(
        f"SELECT {', '.join(columns)} FROM audit_view ORDER BY position DESC LIMIT ?", (limit,)
    )
    return [{**dict(zip(columns, row, strict=True)), "details": json.loads(row[3])} for row in rows]
