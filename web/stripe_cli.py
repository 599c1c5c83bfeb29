"""`ledger stripe …`: what needs Stripe after the fact, such as processing fees."""

import os

import click
import stripe

from ledger.errors import LedgerError
from web.cli import _bar, _catch_up, fails_cleanly, opened_store
from web.stripe_gateway import stripe_client, sync_fees


@click.group("stripe")
def stripe_group() -> None:
    """Stripe: processing fees."""


@stripe_group.command("sync-fees")
@fails_cleanly
def sync_fees_command() -> None:
    """Fetch the fee of every confirmed Stripe gift that has none yet."""
    secret = os.environ.get("STRIPE_SECRET_KEY")
    if not secret:
        raise LedgerError("STRIPE_SECRET_KEY is not set")
    client = stripe_client(secret, os.environ.get("STRIPE_API_BASE"))
    with opened_store() as store:
        _catch_up(store)
        with store.database.reading() as session:
            keys = [row[0] for row in session.query(
                "SELECT source_key FROM gifts_view WHERE source_key LIKE ? "
                "AND status = 'confirmed' AND fees_cents = 0 ORDER BY value_date",
                ("stripe:%",))]
        with _bar("Commissioni Stripe") as (bar, task):
            bar.update(task, total=len(keys))
            try:
                recorded = sync_fees(store.app, client, keys,
                                     on_each=lambda _key, _fee: bar.advance(task))
            except stripe.StripeError as error:
                raise LedgerError(f"Stripe did not answer as expected: {error}") from error
        _catch_up(store)
    click.echo(f"{len(keys)} payments checked, {recorded} fees recorded")
