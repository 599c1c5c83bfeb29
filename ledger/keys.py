"""Aggregate ids are uuid5 of a natural key, so a repeated command finds the same aggregate."""

from uuid import UUID, uuid5

FONDO_NAMESPACE = UUID("6f1d2c1e-6a57-5b1e-9c41-0f0dcd0c2b7a")


def natural_id(kind: str, key: str) -> UUID:
    """`natural_id("donation", "csv:FL1-000001")` is the same UUID on every machine, for ever."""
    return uuid5(FONDO_NAMESPACE, f"{kind}:{key}")
