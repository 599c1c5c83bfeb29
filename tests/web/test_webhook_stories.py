"""Property: any duplication and order of a story's Stripe deliveries, built from Stripe's own
published objects, ends in the same gifts, movements and figures as in-order delivery and as
an independent model of the story."""

import itertools
import random
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakestripe.stories import (
    Deliveries,
    GiftStory,
    expected,
    expected_gifts,
    gift_stories,
    ledger_state,
)
from tests.helpers import post, stripe_ledger
from web import store


@pytest.fixture
def stripe_hook(store_url: str) -> Iterator[FlaskClient]:
    app = stripe_ledger(store_url, campaigns=False)
    yield app.test_client()
    app.extensions["ledger_store"].close()


examples = itertools.count()


# One store per test (both stores through `store_url`), shared by the examples: each example
# starts its own campaigns and uses ids of its own, so examples cannot see each other.
@pytest.mark.slow
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stories=st.lists(gift_stories(), min_size=1, max_size=4),
    shuffle_seed=st.integers(min_value=0, max_value=2**32 - 1),
    copies=st.integers(min_value=1, max_value=3),
)
def test_any_duplication_and_order_of_deliveries_gives_the_in_order_ledger(
    stripe_hook: FlaskClient, stories: list[GiftStory], shuffle_seed: int, copies: int
) -> None:
    number = next(examples)
    states = []
    for run in ("inorder", "shuffled"):
        tag, campaign = f"x{number}{run}x", f"storia-{number}-{run}"
        with stripe_hook.application.app_context():
            store().app.start_campaign(campaign, f"Storia {number}", 1_000_000)
        deliveries = Deliveries(tag, campaign)
        for story in stories:
            deliveries.gift(story)
        order = list(deliveries.events)
        if run == "shuffled":
            rng = random.Random(shuffle_seed)
            order += [rng.choice(order) for _ in range(len(order) * (copies - 1))]
            rng.shuffle(order)
        for event in order:
            answer = post(stripe_hook, event)
            assert answer.status_code == 200, answer.get_json()
            assert answer.get_json()["outcome"] in ("queued", "duplicate", "ignored"), event["type"]
        with stripe_hook.application.app_context():
            assert store().inbox.state().failed == 0
            states.append(ledger_state(store(), campaign, tag))
    in_order, shuffled = states
    assert shuffled == in_order
    assert in_order["figures"] == expected(stories)
    assert sorted((row[1], row[2], int(row[3]), int(row[4])) for row in in_order["gifts"]) == (
        expected_gifts(stories)
    )
