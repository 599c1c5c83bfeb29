"""An offline stand-in for Stripe: a fake API server, Stripe-shaped events and their signatures."""

from tests.fakestripe.events import StripeStory
from tests.fakestripe.server import FakeStripe
from tests.fakestripe.signing import sign

__all__ = ["FakeStripe", "StripeStory", "sign"]
