"""Thank-you e-mails through a real local SMTP server: once per gift, retried, recorded."""

import email
import email.policy
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ledger.gift import PENDING, Gift
from ledger.identity import DonorDetails
from ledger.mail import request_receipt_mail
from ledger.payments import CONFIRMED, DISPUTE_CLOSED, REFUNDED, PaymentNotice
from projections import receipts as receipts_view
from projections.outbox import MailAttempts, mail_attempts, mail_status
from projections.store import LedgerStore
from tests.e2e.conftest import free_port
from tests.fakestripe.events import StripeStory
from tests.helpers import start_campaigns
from web.mail import SmtpSettings, send_due
from web.receipts import issue_year, statement_document
from web.stripe_gateway import StripeEvents

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, SmtpSettings("127.0.0.1", port, False, "", "", "ricevute@fondazione.test")
    controller.stop()


def online(
    key: str, email_address: str | None = "maria@example.org", status: str = "confirmed", **who: str
) -> Gift:
    details = DonorDetails.parse(
        first_name="Maria", last_name="Colombo", email=email_address, **who
    )
    return Gift(
        source_key=f"stripe:{key}",
        campaign="fare-legami-anni-2-3",
        amount_cents=2500,
        value_date=date(2026, 2, 27),
        channel="online",
        method="card",
        details=details,
        privacy_consent=True,
        status=status,
    )


@pytest.fixture
def ready(store: LedgerStore) -> LedgerStore:
    start_campaigns(store)
    store.app.start_campaign("dona-2026", "Dona 2026", 100_000)
    MailAttempts(store.database, store.app.recorder.max_notification_id() or 0)
    return store


def attachment_text(message: EmailMessage, tmp_path: Path) -> str:
    [part] = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    path = tmp_path / part.get_filename()
    path.write_bytes(part.get_payload(decode=True))
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(out.split())


def test_a_confirmed_online_gift_gets_one_thank_you_with_its_receipt(
    ready: LedgerStore, smtp: tuple[Inbox, SmtpSettings], tmp_path: Path
) -> None:
    inbox, settings = smtp
    ready.app.record_gift(online("pi_1"))
    assert send_due(ready, settings, now=lambda: T0) == {"sent": 1, "skipped": 0, "failed": 0}
    assert send_due(ready, settings, now=lambda: T0 + timedelta(days=1))["sent"] == 0
    [message] = inbox.messages
    assert message["To"] == "maria@example.org"
    assert message["From"] == "ricevute@fondazione.test"
    assert message["Subject"] == "Grazie per la tua donazione - ricevuta n. 2026/000001"
    plain = message.get_body(("plain",))
    assert plain is not None
    body = plain.get_content()
    assert "Gentile Maria" in body and "€ 25,00" in body
    assert "mensile" not in body  # a one-off gift: no annual statement to announce
    text = attachment_text(message, tmp_path)
    assert "Ricevuta di erogazione liberale n. 2026/000001" in text and "€ 25,00" in text


def test_a_sepa_gift_is_thanked_only_once_confirmed(
    ready: LedgerStore, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    ready.app.record_gift(online("pi_sepa", status=PENDING))
    assert send_due(ready, settings, now=lambda: T0)["sent"] == 0
    ready.app.notify_payment("stripe:pi_sepa", PaymentNotice(CONFIRMED, date(2026, 3, 4)))
    assert send_due(ready, settings, now=lambda: T0)["sent"] == 1
    assert len(inbox.messages) == 1


def test_no_email_means_no_mail_and_the_reason_is_visible(
    ready: LedgerStore, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    ready.app.record_gift(online("pi_cf", email_address=None, tax_code="CLMMRA43A53D150K"))
    assert send_due(ready, settings, now=lambda: T0)["skipped"] == 1
    assert inbox.messages == []
    with ready.database.reading() as session:
        [row] = mail_status(session)
    assert (row["outcome"], row["detail"]) == (
        "skipped",
        "nessun indirizzo e-mail (no e-mail address)",
    )


def test_a_failure_is_recorded_and_retried_with_backoff(
    ready: LedgerStore, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    down = SmtpSettings("127.0.0.1", free_port(), False, "", "", settings.sender)
    ready.app.record_gift(online("pi_2"))
    assert send_due(ready, down, base_seconds=60, now=lambda: T0)["failed"] == 1
    assert (
        send_due(ready, down, base_seconds=60, now=lambda: T0 + timedelta(seconds=59))["failed"]
        == 0
    )  # not yet due
    assert (
        send_due(ready, down, base_seconds=60, now=lambda: T0 + timedelta(seconds=61))["failed"]
        == 1
    )
    assert (
        send_due(ready, settings, base_seconds=60, now=lambda: T0 + timedelta(seconds=61 + 119))[
            "sent"
        ]
        == 0
    )  # 2 min backoff
    assert (
        send_due(ready, settings, base_seconds=60, now=lambda: T0 + timedelta(seconds=61 + 121))[
            "sent"
        ]
        == 1
    )
    with ready.database.reading() as session:
        attempts = mail_attempts(session, mail_status(session)[0]["mail_key"])
    assert [a["outcome"] for a in attempts] == ["failed", "failed", "sent"]
    assert "ConnectionRefusedError" in attempts[0]["detail"]
    assert len(inbox.messages) == 1


def test_staff_can_send_a_receipt_again(
    ready: LedgerStore, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    ready.app.record_gift(online("pi_3"))
    send_due(ready, settings, now=lambda: T0)
    donation = ready.app.find_donation("stripe:pi_3")
    assert donation is not None
    request = request_receipt_mail(ready.app, "2026/000001", donation.id, "staff@example.org")
    request_receipt_mail(ready.app, "2026/000001", donation.id, "staff", request_id=request)
    assert send_due(ready, settings, now=lambda: T0)["sent"] == 1
    assert [m["Subject"][-11:] for m in inbox.messages] == ["2026/000001", "2026/000001"]


def test_gifts_from_before_the_first_sender_are_not_mailed(
    store: LedgerStore, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    start_campaigns(store)
    store.app.start_campaign("dona-2026", "Dona 2026", 100_000)
    store.app.record_gift(online("pi_old"))
    assert send_due(store, settings, now=lambda: T0)["sent"] == 0
    store.app.record_gift(online("pi_new", email_address="nuovo@example.org"))
    assert send_due(store, settings, now=lambda: T0)["sent"] == 1
    assert [m["To"] for m in inbox.messages] == ["nuovo@example.org"]


def test_a_stripe_refund_voids_the_receipt_at_the_next_issue_and_reissues_it(
    ready: LedgerStore, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    _inbox, settings = smtp
    ready.app.record_gift(online("pi_r"))
    send_due(ready, settings, now=lambda: T0)  # thanked, receipt 2026/000001 for € 25,00
    ready.app.notify_payment(
        "stripe:pi_r",
        PaymentNotice(REFUNDED, date(2026, 3, 2), reference="re_1", amount_cents=1000),
    )
    outcome = issue_year(ready, 2026, date(2026, 3, 3))
    assert outcome.issued == ["2026/000002"]
    with ready.database.reading() as session:
        rows = receipts_view.list_receipts(session, 2026)
    assert [(r["number"], r["status"], r["amount_cents"]) for r in rows] == [
        ("2026/000001", "void", 2500),
        ("2026/000002", "issued", 1500),
    ]
    assert rows[0]["void_reason"] == (
        "importo cambiato dopo l'emissione (rimborso o contestazione persa)"
    )


def test_a_dispute_lost_after_the_receipt_voids_it_and_only_what_was_kept_is_receipted(
    ready: LedgerStore, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    _inbox, settings = smtp
    ready.app.record_gift(online("pi_d"))
    ready.app.record_gift(online("pi_all", email_address="altro@example.org"))
    send_due(ready, settings, now=lambda: T0)  # receipts 2026/000001 and 2026/000002, € 25,00
    for key, dispute, cents in (("stripe:pi_d", "dp_1", 1000), ("stripe:pi_all", "dp_2", 2500)):
        ready.app.notify_payment(
            key,
            PaymentNotice(DISPUTE_CLOSED, date(2026, 3, 2), dispute, cents, outcome="lost"),
        )
    outcome = issue_year(ready, 2026, date(2026, 3, 3))
    assert outcome.issued == ["2026/000003"]
    with ready.database.reading() as session:
        rows = receipts_view.list_receipts(session, 2026)
        assert receipts_view.gifts_to_receipt(session, 2026) == []
    assert sorted((r["number"], r["status"], r["amount_cents"]) for r in rows) == [
        ("2026/000001", "void", 2500),
        ("2026/000002", "void", 2500),
        ("2026/000003", "issued", 1500),
    ]


@pytest.mark.parametrize("new_shape", [False, True])
@pytest.mark.parametrize("order", ["as sent", "reversed"])
def test_a_monthly_gift_is_thanked_once_and_its_later_months_wait_for_the_statement(
    ready: LedgerStore,
    smtp: tuple[Inbox, SmtpSettings],
    tmp_path: Path,
    new_shape: bool,
    order: str,
) -> None:
    inbox, settings = smtp
    story = StripeStory()
    details = story.customer_details("Mario Rossi", "mario.rossi@example.org")
    events = story.monthly_gift(
        1500, details, months=3, cancelled=False, new_invoice_shape=new_shape
    )
    gateway = StripeEvents(ready.app, lambda: "fare-legami-anni-2-3")
    for event in (events if order == "as sent" else events[::-1]) * 2:  # Stripe resends
        gateway.handle(event)
        send_due(ready, settings, now=lambda: T0)
    assert send_due(ready, settings, now=lambda: T0 + timedelta(days=30))["sent"] == 0
    [message] = inbox.messages
    assert message["To"] == "mario.rossi@example.org"
    plain = message.get_body(("plain",))
    assert plain is not None
    body = " ".join(plain.get_content().split())
    first_paid = min(
        e["data"]["object"]["status_transitions"]["paid_at"]
        for e in events
        if e["type"] == "invoice.paid"
    )
    first_day = datetime.fromtimestamp(first_paid).strftime("%d/%m/%Y")
    assert f"€ 15,00 del {first_day}" in body
    assert "prima ricevuta della tua donazione mensile" in body
    assert "riepilogo annuale" in body
    text = attachment_text(message, tmp_path)
    assert "€ 15,00" in text and first_day in text
    # The later months are receipted by the yearly batch and add up on the statement.
    outcome = issue_year(ready, 2016, date(2017, 1, 15))
    assert len(outcome.issued) == 2
    with ready.database.reading() as session:
        rows = receipts_view.list_receipts(session, 2016)
    assert [(r["status"], r["amount_cents"]) for r in rows] == [("issued", 1500)] * 3
    _name, statement = statement_document(ready, 2016, "mario.rossi@example.org")
    (tmp_path / "riepilogo.pdf").write_bytes(statement)
    summary = " ".join(
        subprocess.run(
            ["pdftotext", str(tmp_path / "riepilogo.pdf"), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    )
    assert "€ 45,00" in summary
