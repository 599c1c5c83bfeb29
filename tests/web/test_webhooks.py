"""Stripe webhooks: signatures, every handled type, exactly once in any order."""

import io
import json
import random
import sqlite3
import time
from typing import Any

import psycopg
import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from ledger.bounds import max_gift_cents
from tests.fakestripe import StripeStory, sign
from tests.helpers import (
    SECRET,
    deliver,
    mario,
    post,
    served_figures,
    stripe_ledger,
)
from vault.inbox import Inbox
from web import store
from web.inbox import InboxProcessor, PlannedCommands
from web.stripe_gateway import StripeEvents
from web.stripe_shapes import SHAPES

# A delivery kept in the inbox for the first time, or again.
ACCEPTED = ("queued", "duplicate")


def events_recorded(client: FlaskClient) -> int:
    with client.application.app_context():
        return store().app.recorder.max_notification_id() or 0


def test_bad_signatures_and_bodies_are_400_and_record_nothing(hook: FlaskClient) -> None:
    story = StripeStory()
    _session, events = story.card_gift(2500, mario(story))
    before = events_recorded(hook)
    payload = json.dumps(events[1]).encode()
    assert hook.post("/webhooks/stripe", data=payload).status_code == 400
    assert deliver(hook, events[1], secret="whsec_wrong") == 400
    assert deliver(hook, events[1], timestamp=int(time.time()) - 3600) == 400
    garbage = b"{not json"
    assert (
        hook.post(
            "/webhooks/stripe", data=garbage, headers={"Stripe-Signature": sign(garbage, SECRET)}
        ).status_code
        == 400
    )
    assert events_recorded(hook) == before
    assert served_figures(hook)["raised_cents"] == 0


def test_unknown_types_are_acknowledged_and_ignored(hook: FlaskClient) -> None:
    before = events_recorded(hook)
    assert deliver(hook, StripeStory().unknown()) == 200
    assert events_recorded(hook) == before


def test_a_delivery_is_kept_before_any_of_flask_s_request_hooks_run(stripe_app: Flask) -> None:
    # Added before the first request, as any hook of the app: it sees every page, never a
    # delivery (no session, sign-in or catch-up policy is paid for Stripe's bursts).
    seen: list[str] = []

    @stripe_app.before_request
    def note_the_path() -> None:
        seen.append(request.path)

    client = stripe_app.test_client()
    story = StripeStory()
    _session, (_intent, completed) = story.card_gift(2500, mario(story))
    first, again = post(client, completed), post(client, completed)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.get_json() == {"received": completed["id"], "outcome": "queued"}
    assert again.get_json() == {"received": completed["id"], "outcome": "duplicate"}
    assert first.mimetype == "application/json" and "Set-Cookie" not in first.headers
    assert first.headers["X-Frame-Options"] == "DENY"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in first.headers["Content-Security-Policy"]
    assert seen == []
    assert served_figures(client)["raised_cents"] == 2500
    assert client.get("/healthz").status_code == 200 and seen == ["/healthz"]


def test_refusals_are_answered_as_every_api_error(
    hook: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    unsigned = hook.post("/webhooks/stripe", data=b"{}")
    assert (unsigned.status_code, unsigned.get_json()) == (
        400,
        {"code": 400, "status": "Bad Request", "message": "missing Stripe-Signature header"},
    )
    assert unsigned.headers["X-Frame-Options"] == "DENY"
    wrong_method = hook.get("/webhooks/stripe")
    assert (wrong_method.status_code, wrong_method.headers["Allow"]) == (405, "POST")
    assert wrong_method.get_json()["code"] == 405
    story = StripeStory()
    _session, (_intent, completed) = story.card_gift(2500, mario(story))
    hook.application.config["MAX_WEBHOOK_BYTES"] = 100
    too_large = post(hook, completed)
    assert (too_large.status_code, too_large.get_json()["code"]) == (413, 413)
    del hook.application.config["MAX_WEBHOOK_BYTES"]

    def unavailable(*_args: Any) -> bool:
        raise psycopg.OperationalError("the server closed the connection")

    def locked(*_args: Any) -> bool:
        raise sqlite3.OperationalError("database is locked")

    for failure in (unavailable, locked):
        monkeypatch.setattr(Inbox, "receive", failure)
        busy = post(hook, completed)
        assert (busy.status_code, busy.headers["Retry-After"]) == (503, "1")
        assert busy.get_json()["code"] == 503

    def broken(*_args: Any) -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Inbox, "receive", broken)
    assert post(hook, completed).get_json()["code"] == 500
    hook.application.config["STRIPE_WEBHOOK_SECRET"] = None
    unconfigured = post(hook, completed)
    assert (unconfigured.status_code, unconfigured.get_json()["message"]) == (
        503,
        "Stripe webhooks are not configured",
    )
    monkeypatch.undo()
    with hook.application.app_context():
        assert store().inbox.is_empty()


def test_what_no_signature_or_stripe_event_can_be_is_a_400_and_nothing_is_kept(
    hook: FlaskClient,
) -> None:
    story = StripeStory()
    _session, (_intent, completed) = story.card_gift(2500, mario(story))
    body = json.dumps(completed).encode()
    not_ascii = hook.post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": "t=1,v1=\u00e9"}
    )
    assert (not_ascii.status_code, not_ascii.get_json()["code"]) == (400, 400)
    # A byte-order mark: JSON for json.loads(bytes), not for the processor's text.
    assert post(hook, b"\xef\xbb\xbf" + body).status_code == 400
    for wrong_id in ("evt_\ud800x", "evt_\x00", "evt_" + "x" * 300, ""):
        refused = post(hook, {**completed, "id": wrong_id})
        assert refused.status_code == 400, wrong_id
        assert refused.get_json()["message"].startswith("malformed Stripe event: event.id")
    # A chunked body has no length to refuse beforehand: past the limit it is a 413 too.
    hook.application.config["MAX_WEBHOOK_BYTES"] = 100
    chunked = hook.post(
        "/webhooks/stripe",
        input_stream=io.BytesIO(body),
        headers={"Stripe-Signature": sign(body, SECRET), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn says of a chunked body
    )
    assert (chunked.status_code, chunked.get_json()["code"]) == (413, 413)
    with hook.application.app_context():
        assert store().inbox.is_empty()


def test_card_gift_counts_once_and_the_donor_joins_the_registry(hook: FlaskClient) -> None:
    story = StripeStory()
    _session, events = story.card_gift(2500, mario(story), tax_code="rssmra80a01d150j")
    for event in events * 3:
        assert deliver(hook, event) == 200
    _other, again = story.card_gift(1000, mario(story, "mario.rossi@example.org"))
    for event in again:
        deliver(hook, event)
    got = served_figures(hook)
    assert (got["raised_cents"], got["gifts"], got["contacts"], got["donors"]) == (3500, 2, 1, 1)
    with hook.application.app_context(), store().database.reading() as session:
        row = session.one(
            "SELECT tax_code, email, marketing_consent, consent_how, last_name FROM registry_donors"
        )
    assert row is not None
    assert row[:3] == ("RSSMRA80A01D150J", "mario.rossi@example.org", 1)
    assert row[3].startswith("online:stripe:pi_") and row[4] == "Rossi"


def test_sepa_is_pending_until_it_succeeds(hook: FlaskClient) -> None:
    story = StripeStory()
    details = story.customer_details("Anna Bianchi", "anna@example.org")
    _ok, succeeded = story.sepa_gift(5000, details, succeeds=True)
    _ko, failed = story.sepa_gift(7000, details, succeeds=False)
    deliver(hook, succeeded[0])
    deliver(hook, failed[0])
    assert served_figures(hook)["raised_cents"] == 0
    deliver(hook, succeeded[1])
    deliver(hook, failed[1])
    got = served_figures(hook)
    assert (got["raised_cents"], got["gifts"], got["contacts"]) == (5000, 1, 1)


def test_async_success_before_completion_counts_once(hook: FlaskClient) -> None:
    story = StripeStory()
    _session, events = story.sepa_gift(4000, mario(story), succeeds=True)
    for event in reversed(events):
        deliver(hook, event)
    assert served_figures(hook)["raised_cents"] == 4000


@pytest.mark.parametrize("new_shape", [False, True])
def test_monthly_gift_is_one_gift_per_paid_invoice(hook: FlaskClient, new_shape: bool) -> None:
    story = StripeStory()
    events = story.monthly_gift(
        1500, mario(story), months=3, cancelled=True, new_invoice_shape=new_shape
    )
    for event in events + events:
        assert deliver(hook, event) == 200
    got = served_figures(hook)
    assert (got["raised_cents"], got["gifts"], got["contacts"]) == (4500, 3, 1)


def test_refunds_partial_full_and_before_their_payment(hook: FlaskClient) -> None:
    story = StripeStory()
    first, paid_first = story.card_gift(10000, mario(story))
    second, paid_second = story.card_gift(3000, story.customer_details("Eva", "eva@example.org"))
    for event in paid_first:
        deliver(hook, event)
    for event in story.refunds(first, [2500, 500]):
        deliver(hook, event)
    for event in story.refunds(second, [3000]) + paid_second:  # refund first, payment later
        deliver(hook, event)
    got = served_figures(hook)
    assert (got["raised_cents"], got["refunded_cents"]) == (13000 - 6000, 6000)


def test_a_failed_refund_gives_the_money_back_to_raised(hook: FlaskClient) -> None:
    story = StripeStory()
    session, paid = story.card_gift(5000, mario(story))
    for event in paid:
        deliver(hook, event)
    refund = story.refund(session["payment_intent"], 5000)
    deliver(hook, story.event("refund.created", refund))
    assert served_figures(hook)["raised_cents"] == 0
    deliver(hook, story.event("refund.updated", {**refund, "status": "failed"}))
    assert served_figures(hook)["raised_cents"] == 5000


def test_lost_dispute_leaves_raised_won_does_not(hook: FlaskClient) -> None:
    story = StripeStory()
    lost, paid_lost = story.card_gift(8000, mario(story))
    won, paid_won = story.card_gift(2000, story.customer_details("Eva", "eva@example.org"))
    for event in paid_lost + paid_won + story.dispute(lost, "lost") + story.dispute(won, "won"):
        deliver(hook, event)
    got = served_figures(hook)
    assert (got["raised_cents"], got["disputed_cents"]) == (2000, 8000)


def gift_rows(client: FlaskClient) -> list[tuple[Any, ...]]:
    with client.application.app_context():
        store().runner.catch_up()
        with store().database.reading() as session:
            return sorted(
                session.query(
                    "SELECT source_key, method, status, amount_cents, "
                    "refunded_cents FROM gifts_view"
                )
            )


@pytest.mark.parametrize("reverse", [False, True])
def test_sepa_on_a_card_or_sepa_session_is_confirmed_in_either_order(
    hook: FlaskClient, reverse: bool
) -> None:
    story = StripeStory()
    session, events = story.sepa_gift(5000, mario(story), succeeds=True)
    assert session["payment_method_types"] == ["card", "sepa_debit"]
    assert events[1]["data"]["object"]["payment_status"] == "paid"
    for event in (events[::-1] if reverse else events) * 2:
        response = post(hook, event)
        assert response.status_code == 200
        assert response.get_json()["outcome"] in ACCEPTED
    assert gift_rows(hook) == [
        (f"stripe:{session['payment_intent']}", "sepa_debit", "confirmed", 5000, 0)
    ]
    assert served_figures(hook)["raised_cents"] == 5000


def test_a_sepa_failure_applies_even_when_it_arrives_first(hook: FlaskClient) -> None:
    story = StripeStory()
    session, events = story.sepa_gift(3000, mario(story), succeeds=False)
    for event in events[::-1]:
        assert post(hook, event).get_json()["outcome"] in ACCEPTED
    assert gift_rows(hook) == [
        (f"stripe:{session['payment_intent']}", "sepa_debit", "failed", 3000, 0)
    ]
    assert served_figures(hook)["raised_cents"] == 0


def monthly_intents(events: list[dict[str, Any]]) -> list[str]:
    """The PaymentIntent of each month, whichever shape named it."""
    return [
        event["data"]["object"]["payment_intent"]
        for event in events
        if event["type"] == "charge.succeeded"
    ]


@pytest.mark.parametrize("new_shape", [False, True])
@pytest.mark.parametrize("order", ["as sent", "reversed"])
def test_refunds_and_disputes_of_a_monthly_payment_apply_to_its_month(
    hook: FlaskClient, new_shape: bool, order: str
) -> None:
    story = StripeStory()
    events = story.monthly_gift(
        2000,
        mario(story),
        months=3,
        cancelled=False,
        new_invoice_shape=new_shape,
        method="sepa_debit",
    )
    first, second, _third = monthly_intents(events)
    refund = story.event("refund.created", story.refund(first, 2000))
    dispute = story.event(
        "charge.dispute.closed",
        {
            "id": "dp_month2",
            "object": "dispute",
            "amount": 2000,
            "currency": "eur",
            "created": story.clock,
            "payment_intent": second,
            "status": "lost",
        },
    )
    deliveries = events + [refund, dispute]
    for event in deliveries if order == "as sent" else deliveries[::-1]:
        assert post(hook, event).status_code == 200
    got = served_figures(hook)
    assert (
        got["received_cents"],
        got["refunded_cents"],
        got["disputed_cents"],
        got["raised_cents"],
        got["gifts"],
    ) == (6000, 2000, 2000, 2000, 3)
    assert {row[1] for row in gift_rows(hook)} == {"sepa_debit"}
    if new_shape:
        assert all(row[0].startswith("stripe:in_") for row in gift_rows(hook))


@pytest.mark.parametrize("link_first", [False, True])
def test_an_invoice_naming_its_payment_and_an_invoice_payment_make_one_month(
    hook: FlaskClient, link_first: bool
) -> None:
    story = StripeStory()
    events = story.monthly_gift(
        2500, mario(story), months=1, cancelled=False, new_invoice_shape=False
    )
    invoice = next(e for e in events if e["type"] == "invoice.paid")["data"]["object"]
    link = story.event(
        "invoice_payment.paid",
        {
            "id": "inpay_both",
            "object": "invoice_payment",
            "invoice": invoice["id"],
            "status": "paid",
            "payment": {"type": "payment_intent", "payment_intent": invoice["payment_intent"]},
        },
    )
    refund = story.event("refund.created", story.refund(invoice["payment_intent"], 1000))
    deliveries = [refund, link, *events] if link_first else [*events, link, refund]
    for event in deliveries * 2:
        assert post(hook, event).get_json()["outcome"] in ACCEPTED
    got = served_figures(hook)
    assert (got["gifts"], got["raised_cents"], got["refunded_cents"]) == (1, 1500, 1000)


def test_a_refund_failed_before_it_was_created_is_never_counted(hook: FlaskClient) -> None:
    story = StripeStory()
    session, paid = story.card_gift(5000, mario(story))
    refund = story.refund(session["payment_intent"], 5000)
    failed = story.event("refund.failed", {**refund, "status": "failed"})
    for event in paid + [
        failed,
        story.event("refund.created", refund),
        story.event("refund.updated", refund),
    ]:
        assert post(hook, event).status_code == 200
    got = served_figures(hook)
    assert (got["raised_cents"], got["refunded_cents"]) == (5000, 0)


@pytest.mark.parametrize("succeeds", [True, False])
def test_money_back_from_a_pending_debit_waits_for_its_confirmation(
    hook: FlaskClient, succeeds: bool
) -> None:
    story = StripeStory()
    session, events = story.sepa_gift(6000, mario(story), succeeds=succeeds)
    intent = session["payment_intent"]
    post(hook, events[0])
    post(hook, story.event("refund.created", story.refund(intent, 1000)))
    post(
        hook,
        story.event(
            "charge.dispute.closed",
            {
                "id": "dp_early",
                "object": "dispute",
                "amount": 5000,
                "currency": "eur",
                "created": story.clock,
                "payment_intent": intent,
                "status": "lost",
            },
        ),
    )
    got = served_figures(hook)
    assert (got["raised_cents"], got["refunded_cents"], got["disputed_cents"]) == (0, 0, 0)
    post(hook, events[1])
    got = served_figures(hook)
    want = (0, 1000, 5000) if succeeds else (0, 0, 0)
    assert (got["raised_cents"], got["refunded_cents"], got["disputed_cents"]) == want


def test_refunds_and_lost_disputes_share_one_cap(hook: FlaskClient) -> None:
    story = StripeStory()
    session, paid = story.card_gift(5000, mario(story))
    intent = session["payment_intent"]
    for event in paid:
        post(hook, event)
    post(
        hook,
        story.event(
            "charge.dispute.closed",
            {
                "id": "dp_all",
                "object": "dispute",
                "amount": 5000,
                "currency": "eur",
                "created": story.clock,
                "payment_intent": intent,
                "status": "lost",
            },
        ),
    )
    # Beyond the cap: it waits (Stripe allows it only when something before it failed).
    assert post(hook, story.event("refund.created", story.refund(intent, 100))).status_code == 200
    got = served_figures(hook)
    assert (got["raised_cents"], got["refunded_cents"], got["disputed_cents"]) == (0, 0, 5000)


def malformed_events() -> list[tuple[str, Any]]:
    """Signed deliveries that are not what Stripe documents, each with the field at fault."""
    story = StripeStory()
    session, (_intent, completed) = story.card_gift(2500, mario(story))
    refund = story.event("refund.created", story.refund(session["payment_intent"], 500))
    monthly = story.monthly_gift(
        1500, mario(story), months=1, cancelled=False, new_invoice_shape=True
    )
    invoice = next(event for event in monthly if event["type"] == "invoice.paid")
    dispute = story.dispute(session, "lost")[0]

    def changed(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
        obj = {**event["data"]["object"], **fields}
        return {**event, "data": {"object": {k: v for k, v in obj.items() if v is not GONE}}}

    nested = b'{"a": ' * 100_000 + b"{}" + b"}" * 100_000
    return [
        ("event", [completed]),
        ("data.object", {**completed, "data": {}}),
        ("data.object", {**completed, "data": {"object": "cs_test_1"}}),
        ("amount_total", changed(completed, amount_total=GONE)),
        ("amount_total", changed(completed, amount_total="2500")),
        ("amount_total", changed(completed, amount_total=25.0)),
        ("metadata", changed(completed, metadata=["campaign", "fare-legami-anni-2-3"])),
        ("metadata.campaign", changed(completed, metadata={"campaign": 7})),
        ("created", changed(completed, created="1472724000")),
        ("event.created", {**completed, "created": "yesterday"}),
        ("customer_details", changed(completed, customer_details="Mario")),
        ("amount", changed(refund, amount=GONE)),
        ("amount", changed(refund, amount=-500)),
        ("amount", changed(dispute, amount=GONE)),
        ("data.object.id", changed(invoice, id=GONE)),
        ("amount_paid", changed(invoice, amount_paid=None)),
        ("the body", nested),
        ("currency", changed(completed, currency="usd")),
        ("currency", changed(invoice, currency="gbp")),
        ("currency", changed(refund, currency="usd")),
        ("currency", changed(dispute, currency="chf")),
    ]


GONE = object()


@pytest.mark.parametrize(
    "field,event",
    malformed_events(),
    ids=[f"{n}-{field}" for n, (field, _e) in enumerate(malformed_events())],
)
def test_signed_but_malformed_events_are_400_with_the_reason_and_record_nothing(
    hook: FlaskClient, field: str, event: Any
) -> None:
    before = events_recorded(hook)
    response = post(hook, event)
    assert response.status_code == 400
    assert field in response.get_json()["message"]
    assert events_recorded(hook) == before


def big_story() -> list[dict[str, Any]]:
    """More than 200 deliveries of every handled type (and some Stripe sends that we ignore)."""
    story = StripeStory()
    rng = random.Random(11)
    deliveries: list[dict[str, Any]] = []
    people = [
        story.customer_details(
            f"Donatore N{i}", f"donor{i % 23}@example.org", f"+39 340 {i % 17:07d}"
        )
        for i in range(60)
    ]
    for index in range(60):
        session, events = story.card_gift(rng.choice((1000, 2500, 5000, 10000)), people[index])
        deliveries += events
        if index % 4 == 0:
            deliveries += story.refunds(session, [session["amount_total"] // 2])
        if index % 9 == 0:
            deliveries += story.dispute(session, "lost" if index % 2 else "won")
    for index in range(16):
        deliveries += story.sepa_gift(3000 + index * 100, people[index], succeeds=index % 3 > 0)[1]
    for index in range(8):
        deliveries += story.monthly_gift(
            2000,
            people[index],
            months=3,
            cancelled=index % 2 == 0,
            new_invoice_shape=index % 2 == 1,
        )
    deliveries += [story.unknown() for _ in range(5)]
    return deliveries


def refund_comes_before_its_payment(order: list[dict[str, Any]]) -> bool:
    paid: set[str] = set()
    for event in order:
        obj = event["data"]["object"]
        if event["type"] == "checkout.session.completed" and obj.get("payment_intent"):
            paid.add(obj["payment_intent"])
        if event["type"] == "refund.created" and obj["payment_intent"] not in paid:
            return True
    return False


def ledger_state(client: FlaskClient) -> dict[str, Any]:
    """The ledger as the foundation sees it, without ids that depend on delivery order."""
    with client.application.app_context():
        store().runner.catch_up()
        with store().database.reading() as session:
            gifts = sorted(
                session.query(
                    "SELECT source_key, amount_cents, status, refunded_cents, people, identified "
                    "FROM gifts_view"
                )
            )
            movements = sorted(
                session.query("SELECT movement_key, kind, amount_cents FROM money_movements")
            )
            donors = session.query(
                "SELECT donor_id, source_key FROM registry_gifts g JOIN "
                "gifts_view v ON v.donation_id = g.donation_id"
            )
    partition: dict[str, set[str]] = {}
    for donor, source_key in donors:
        partition.setdefault(donor, set()).add(source_key)
    figures_now = served_figures(client)
    figures_now.pop("as_of")
    return {
        "gifts": gifts,
        "movements": movements,
        "figures": figures_now,
        "donors": sorted(sorted(keys) for keys in partition.values()),
    }


@pytest.mark.slow
def test_replayed_shuffled_deliveries_end_as_one_in_order_delivery(
    store_url: str, sqlite_url: str, tmp_path: Any
) -> None:
    deliveries = big_story()
    assert len(deliveries) >= 200
    kinds = {event["type"] for event in deliveries}
    assert {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "invoice.paid",
        "charge.refunded",
        "refund.created",
        "customer.subscription.deleted",
        "charge.dispute.created",
        "charge.dispute.closed",
    } <= kinds

    reference_url = f"sqlite:///{tmp_path / 'reference.sqlite3'}"
    states = []
    for url, replay in ((reference_url, deliveries), (store_url, deliveries * 3)):
        app = stripe_ledger(url)
        client = app.test_client()
        order = list(replay)
        if replay is not deliveries:
            random.Random(5).shuffle(order)
            assert refund_comes_before_its_payment(order)
        statuses = {deliver(client, event) for event in order}
        assert statuses == {200}
        states.append(ledger_state(client))
        app.extensions["ledger_store"].close()
    reference, replayed = states
    assert replayed == reference
    assert reference["figures"]["raised_cents"] > 0 and reference["figures"]["refunded_cents"] > 0


def test_a_refund_that_keeps_losing_the_race_waits_in_the_inbox_and_applies_once(
    stripe_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other deliveries of the same payment win every save: the refund stays in the inbox, is
    tried again, and applies once when it wins (it is never marked done while unapplied)."""
    from eventsourcing.persistence import IntegrityError

    hook = stripe_app.test_client()
    story = StripeStory()
    session, paid = story.card_gift(5000, mario(story))
    for event in paid:
        deliver(hook, event)
    refund = story.event("refund.created", story.refund(session["payment_intent"], 2500))
    with stripe_app.app_context():
        ledger = store().app
    saved = ledger.save
    lost = []

    def losing_save(*objs: Any, **kwargs: Any) -> Any:
        if any(
            type(event).__name__ == "Refunded"
            for obj in objs
            for event in getattr(obj, "pending_events", [])
        ):
            lost.append(objs)
            raise IntegrityError("another worker saved this donation first")
        return saved(*objs, **kwargs)

    monkeypatch.setattr(ledger, "save", losing_save)
    assert deliver(hook, refund) == 200  # kept: from here on it is the inbox's to apply
    with stripe_app.app_context():
        state = store().inbox.state()
    assert (state.pending, state.retrying, state.failed) == (1, 1, 0)
    assert len(lost) == 3 and served_figures(hook)["raised_cents"] == 5000
    monkeypatch.setattr(ledger, "save", saved)
    with stripe_app.app_context():
        store().database.write_once("UPDATE stripe_inbox SET not_before = 0")
        assert InboxProcessor(store()).drain() == 1
        assert store().inbox.state().pending == 0
    assert deliver(hook, refund) == 200  # Stripe's resend: already kept, nothing more
    got = served_figures(hook)
    assert (got["raised_cents"], got["refunded_cents"]) == (2500, 2500)


def test_a_delivery_that_cannot_apply_is_set_apart_with_its_reason_and_others_go_on(
    stripe_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = FlaskClient(stripe_app)  # no processing between requests: one batch below
    story = StripeStory()
    _first, first = story.card_gift(1000, mario(story))
    _second, second = story.card_gift(2000, story.customer_details("Eva", "eva@example.org"))
    _third, third = story.card_gift(4000, story.customer_details("Ugo", "ugo@example.org"))
    for event in first + second + third:
        assert deliver(hook, event) == 200
    poisoned = second[1]["id"]
    real_apply = StripeEvents.apply

    def apply_but_one(self: StripeEvents, event: dict[str, Any]) -> str:
        if event["id"] == poisoned and not isinstance(self.app, PlannedCommands):
            raise RuntimeError("the ledger cannot take this one")
        return real_apply(self, event)

    def refuse_batch(*_args: Any) -> int:
        raise RuntimeError("one gift of the batch cannot be recorded")

    monkeypatch.setattr(StripeEvents, "apply", apply_but_one)
    with stripe_app.app_context():
        # The batch is refused whole: each delivery is then applied alone.
        monkeypatch.setattr(store().app, "receive_payments", refuse_batch)
    with stripe_app.app_context():
        assert InboxProcessor(store()).drain() == 3  # the sessions (the intents are ignored)
        state = store().inbox.state()
        [failure] = store().inbox.failures()
    assert (state.pending, state.failed) == (0, 1)
    assert (failure.event_id, failure.event_type) == (poisoned, "checkout.session.completed")
    assert "RuntimeError: the ledger cannot take this one" in failure.reason
    assert served_figures(hook)["raised_cents"] == 5000
    health = hook.get("/healthz").get_json()
    assert health["inbox"]["failed"] == 1
    assert health["inbox"]["failures"] == [
        {"event_id": poisoned, "event_type": "checkout.session.completed"}
    ]  # the reason stays in the back office: it may quote what the delivery held

    monkeypatch.setattr(StripeEvents, "apply", real_apply)
    monkeypatch.undo()
    with stripe_app.app_context():
        assert store().inbox.retry_failed(poisoned) == 1
        assert InboxProcessor(store()).drain() == 1
        assert store().inbox.state().failed == 0
    assert served_figures(hook)["raised_cents"] == 7000


def money_back_out_of_bounds(story: StripeStory, intent: str) -> list[tuple[str, Any]]:
    """Refunds and lost disputes that name a payment not recorded yet and that no gift could
    ever take: each would otherwise wait among the payment's notices."""
    too_much = max_gift_cents() + 1
    refund = story.refund(intent, 500)
    dispute = {
        "id": "dp_big",
        "object": "dispute",
        "amount": 2**64,
        "currency": "eur",
        "created": story.clock,
        "payment_intent": intent,
        "status": "lost",
    }
    return [
        ("amount", story.event("refund.created", {**refund, "amount": too_much})),
        ("amount", story.event("charge.dispute.closed", dispute)),
        ("on", story.event("refund.created", {**refund, "created": 0})),
        ("created", story.event("refund.created", {**refund, "created": 10**30})),
        ("on", story.event("refund.created", {**refund, "created": 4_102_444_800})),  # 2100
        ("reference", story.event("refund.created", {**refund, "id": "re_\x1b[2J"})),
    ]


def test_money_back_out_of_bounds_is_refused_before_it_waits_for_its_payment(
    hook: FlaskClient,
) -> None:
    story = StripeStory()
    session, paid = story.card_gift(2500, mario(story))
    before = events_recorded(hook)
    for field, event in money_back_out_of_bounds(story, session["payment_intent"]):
        response = post(hook, event)
        assert response.status_code == 400, (field, response.get_data())
        assert field in response.get_json()["message"]
        assert events_recorded(hook) == before
    # The payment itself still arrives, counts, and takes its own refund.
    assert [post(hook, event).status_code for event in paid] == [200, 200]
    assert (
        post(
            hook, story.event("refund.created", story.refund(session["payment_intent"], 500))
        ).status_code
        == 200
    )
    got = served_figures(hook)
    assert (got["raised_cents"], got["refunded_cents"], got["gifts"]) == (2000, 500, 1)


@pytest.mark.parametrize("created", [-1, 10**12, 10**30])
def test_a_gift_dated_outside_any_calendar_is_400_and_records_nothing(
    hook: FlaskClient, created: int
) -> None:
    story = StripeStory()
    _session, (_intent, completed) = story.card_gift(2500, mario(story))
    completed["data"]["object"]["created"] = created
    before = events_recorded(hook)
    response = post(hook, completed)
    assert response.status_code == 400
    assert "created" in response.get_json()["message"]
    assert events_recorded(hook) == before


def test_deliveries_applied_in_batches_give_the_ledger_of_one_at_a_time(
    store_url: str, tmp_path: Any
) -> None:
    """The processor records a batch's new gifts together and applies the rest alone, in
    whatever order the batch holds them: refunds before their payments, resends, SEPA
    outcomes before their sessions. The ledger equals one delivery applied at a time."""
    deliveries = big_story()[:120]
    states = []
    for url, batch in ((f"sqlite:///{tmp_path / 'one.sqlite3'}", False), (store_url, True)):
        app = stripe_ledger(url)
        order = list(deliveries)
        if batch:
            order = order * 2
            random.Random(3).shuffle(order)
            client: FlaskClient = FlaskClient(app)  # nothing applied between requests
        else:
            client = app.test_client()
        assert {deliver(client, event) for event in order} == {200}
        if batch:
            with app.app_context():
                # Each delivery kept once however often it came; unknown types not at all.
                kept = len({e["id"] for e in deliveries if e["type"] in SHAPES})
                assert store().inbox.state().pending == kept
                assert InboxProcessor(store()).process(limit=1000) == kept  # one batch
                InboxProcessor(store()).drain()
                state = store().inbox.state()
            assert (state.pending, state.failed) == (0, 0)
        states.append(ledger_state(client))
        app.extensions["ledger_store"].close()
    one_at_a_time, batched = states
    assert batched == one_at_a_time
    assert one_at_a_time["figures"]["raised_cents"] > 0


def test_a_delivery_that_fails_shows_in_the_back_office_banner(office: Flask) -> None:
    staff = office.test_client()
    assert (
        staff.post(
            "/login", data={"email": "staff@example.org", "password": "una-password-lunga"}
        ).status_code
        == 302
    )
    with office.app_context():
        # Kept by an older version of the checks, say: it cannot be read as a refund now.
        assert store().inbox.receive("evt_broken", "refund.created", '{"id": "evt_broken"}')
    italian = staff.get("/admin/").get_data(as_text=True)  # the processor ran before it
    assert "Pagamenti Stripe non registrati: 1 notifiche non applicabili" in italian
    assert "evt_broken refund.created" in italian and "ledger inbox --retry-failed" in italian
    english = staff.get("/admin/?lang=en").get_data(as_text=True)
    assert "Stripe payments not recorded: 1 deliveries cannot be applied" in english
    with office.app_context():
        [failure] = store().inbox.failures()
    assert "MalformedEvent" in failure.reason and "event.type" in failure.reason


def test_ledger_inbox_names_a_delivery_it_cannot_apply_and_exits_1(
    cli: Any, store_url: str
) -> None:
    from projections.store import LedgerStore
    from web.cli import main

    ledger = LedgerStore.open(store_url)
    try:
        assert ledger.inbox.receive("evt_broken", "refund.created", '{"id": "evt_broken"}')
    finally:
        ledger.close()
    first = cli.invoke(main, ["inbox"])
    assert first.exit_code == 1
    assert "inbox: 1 deliveries processed" in first.output
    assert "failed: evt_broken (refund.created): MalformedEvent" in first.output
    assert "ledger inbox --retry-failed" in first.output
    again = cli.invoke(main, ["inbox", "--retry-failed", "--event", "evt_broken"])
    assert again.exit_code == 1  # still cannot apply: set apart again, not lost
    assert "1 deliveries back in line" in again.output
    assert cli.invoke(main, ["inbox", "--retry-failed", "--event", "evt_other"]).output.startswith(
        "0 deliveries back in line"
    )
