"""Stripe's own published objects (stripe/openapi fixtures3.json, as stripe-mock serves them), with
only the fields a story needs overridden, wrapped in Stripe's own event envelope."""

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = json.loads((Path(__file__).parent / "fixtures3.json").read_text(encoding="utf-8"))
API_VERSION = "2025-03-31.basil"


def stripe_object(kind: str, **fields: Any) -> dict[str, Any]:
    """A fresh copy of Stripe's fixture for `kind` (e.g. "checkout.session"), with `fields`
    replaced; a field given as None stays null, as Stripe sends it."""
    obj: dict[str, Any] = copy.deepcopy(FIXTURES["resources"][kind])
    obj.update(fields)
    return obj


def without(obj: dict[str, Any], *names: str) -> dict[str, Any]:
    """`obj` without fields that an API version does not send."""
    return {key: value for key, value in obj.items() if key not in names}


def stripe_event(event_id: str, kind: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return stripe_object(
        "event",
        id=event_id,
        type=kind,
        created=created,
        api_version=API_VERSION,
        data={"object": copy.deepcopy(obj)},
    )
