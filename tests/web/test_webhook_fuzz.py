"""Any signed JSON body at the Stripe webhook gets a 2xx or a 4xx, never a 5xx."""

import json
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakestripe import StripeStory, sign
from tests.helpers import SECRET, mario

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def _stories() -> list[dict[str, Any]]:
    """Every kind of delivery the ledger handles, in the shapes of Stripe's objects."""
    story = StripeStory()
    session, paid = story.card_gift(2500, mario(story), tax_code="RSSMRA80A01D150U")
    _sepa, sepa = story.sepa_gift(3000, mario(story, "sepa@example.org"), succeeds=False)
    monthly = story.monthly_gift(1000, mario(story, "mese@example.org"), 2, True, True)
    return [
        *paid,
        *sepa,
        *monthly,
        *story.refunds(session, [500]),
        *story.dispute(session, "lost"),
        story.unknown(),
    ]


STORIES = _stories()


def _mutate(value: Any, path: list[str | int], replacement: Any) -> Any:
    """`value` with the leaf or branch at `path` (as far as it exists) replaced."""
    if not path or not isinstance(value, dict | list):
        return replacement
    key, rest = path[0], path[1:]
    if isinstance(value, dict) and value:
        name = sorted(value)[hash(key) % len(value)] if isinstance(key, int) else key
        return {**value, name: _mutate(value.get(name), rest, replacement)}
    if isinstance(value, list) and value:
        index = key % len(value) if isinstance(key, int) else 0
        return [*value[:index], _mutate(value[index], rest, replacement), *value[index + 1 :]]
    return replacement


MUTATED = st.builds(
    _mutate,
    st.sampled_from(STORIES),
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=5),
    JSON,
)


@given(st.one_of(JSON, MUTATED, st.sampled_from(STORIES)))
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_signed_body_is_answered_2xx_or_4xx(
    hook: FlaskClient,
    body: Any,
) -> None:
    payload = json.dumps(body).encode()
    response = hook.post(
        "/webhooks/stripe",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, SECRET)},
    )
    assert 200 <= response.status_code < 500, (response.status_code, response.get_data())
