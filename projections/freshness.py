"""How far each read model is behind the events, and for how long: what makes staleness visible.

The catch-up policy (README, "Keeping the read models caught up"): pages and the API never
apply events themselves, they read what `ledger project --follow` has applied; the CLI's
commands catch up first. So the only way a page shows old figures is a follower that is
missing or too slow, and this module measures exactly that, without taking any lock.
"""

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.application import LedgerApplication
from projections.database import Database


@dataclass(frozen=True)
class Freshness:
    """One read model's distance from the events: how many are still to apply, and how long
    the first of them has been waiting (0 when it is caught up)."""

    name: str
    behind: int
    waiting_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def freshness(
    app: LedgerApplication, database: Database, now: datetime | None = None
) -> list[Freshness]:
    """Every read model's freshness, by name. `behind` counts notification ids, so on
    PostgreSQL (whose ids skip after a rolled-back save) it may overstate by those gaps."""
    head = app.recorder.max_notification_id() or 0
    with database.reading() as session:
        positions: dict[str, int] = dict(
            session.query("SELECT name, position FROM projection_positions ORDER BY name")
        )
    moment = now or datetime.now(UTC)
    waited: dict[int, float] = {}
    found = []
    for name, position in positions.items():
        behind = max(0, head - int(position))
        if behind and position not in waited:
            waited[position] = _waiting_since(app, int(position), moment)
        found.append(Freshness(name, behind, waited.get(position, 0.0) if behind else 0.0))
    return found


def _waiting_since(app: LedgerApplication, position: int, now: datetime) -> float:
    """Seconds since the first event after `position` was recorded."""
    first = app.recorder.select_notifications(start=position + 1, limit=1)
    if not first:
        return 0.0
    try:
        event: Any = app.mapper.to_domain_event(first[0])
    except Exception:  # noqa: BLE001 - an event no code can decode: its read model has
        # stalled on it, which the stall notice reports; its age adds nothing here.
        return 0.0
    return round(max(0.0, (now - event.timestamp).total_seconds()), 1)


def applied_up_to(
    database: Database, position: int, timeout: float, interval: float = 0.05
) -> bool:
    """Wait (reading only) until every read model that is not stalled has applied the events
    up to `position`; False when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        with database.reading() as session:
            lowest = session.scalar(
                "SELECT MIN(position) FROM projection_positions WHERE name NOT IN "
                "(SELECT name FROM projection_stalls)",
                default=None,
            )
        if lowest is None or int(lowest) >= position or time.monotonic() >= deadline:
            return lowest is None or int(lowest) >= position
        time.sleep(interval)
