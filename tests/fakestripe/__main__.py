"""`python -m tests.fakestripe --port 12111 --webhook URL --secret whsec_…`: the fake Stripe for
trying card payments locally; its checkout page pays and sends the signed events to URL."""

import argparse

from tests.fakestripe.server import FakeStripe


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakestripe")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook", required=True, help="Fondo's /webhooks/stripe address")
    parser.add_argument("--secret", required=True, help="the STRIPE_WEBHOOK_SECRET Fondo uses")
    options = parser.parse_args()
    fake = FakeStripe(options.port, options.webhook, options.secret)
    print(f"fake Stripe: {fake.base_url} (payments go to {options.webhook})", flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
