"""Audit: every export of personal data, access request and erasure is itself an event."""

from typing import Any

from eventsourcing.domain import Aggregate, event


class AuditEntry(Aggregate):
    """Who did what with personal data, with which filters, on how many rows."""

    class Recorded(Aggregate.Created):
        action: str
        who: str
        details: dict[str, Any]
        rows: int

    @event(Recorded)
    def __init__(self, action: str, who: str, details: dict[str, Any], rows: int) -> None:
        self.action = action
        self.who = who
        self.details = details
        self.rows = rows
