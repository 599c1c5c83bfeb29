"""The mail sender: thank-you e-mails with the receipt attached, off the request path.

`ledger mail --follow` (started by ./scripts/serve) sends what the outbox holds: every
attempt is recorded before and after, failures are retried with backoff, nothing is sent
twice for one mail; without LEDGER_SMTP_URL mail stays queued and the back office says so.
"""

import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import unquote, urlparse
from uuid import UUID

from ledger.donation import Donation
from ledger.errors import InvalidInputError, LedgerError
from ledger.gift import FIRST_MONTH
from ledger.money import format_eur
from ledger.receipts import Receipts
from projections.outbox import FAILED, SENT, SKIPPED, MailAttempts
from projections.store import LedgerStore
from web.pdf import Foundation, day, receipt_pdf


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: bool
    user: str
    password: str
    sender: str

    @classmethod
    def from_env(cls) -> "SmtpSettings | None":
        """`smtp://host:port` or `smtps://user:pass@host:465`; None when unset."""
        url = os.environ.get("LEDGER_SMTP_URL", "").strip()
        if not url:
            return None
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname:
            raise InvalidInputError(
                f"LEDGER_SMTP_URL must be smtp://host:port or "
                f"smtps://user:pass@host:465, not {url!r}"
            )
        return cls(
            parsed.hostname,
            parsed.port or (465 if parsed.scheme == "smtps" else 25),
            parsed.scheme == "smtps",
            unquote(parsed.username or ""),
            unquote(parsed.password or ""),
            os.environ.get("LEDGER_MAIL_FROM") or f"ricevute@{parsed.hostname}",
        )


def thank_you(
    store: LedgerStore, donation_id: UUID, number: str | None, on: datetime, sender: str
) -> EmailMessage | str:
    """The Italian thank-you with the receipt attached, or why none can be sent."""
    app = store.app
    donation: Donation = app.repository.get(donation_id)
    details = app.details_of(donation)
    if details is None or not details.email:
        return "nessun indirizzo e-mail (no e-mail address)"
    receipts = Receipts(app)
    if number is None:
        outcome = receipts.issue([donation.source_key], on.date())
        if outcome.skipped:
            return next(iter(outcome.skipped.values()))
        number = receipts.in_force(donation.value_date.year, [donation.id])[0].number
    receipt = receipts.document(number)
    foundation = Foundation.from_env()
    campaign = app.get_campaign(receipt.campaign).name
    message = EmailMessage()
    message["From"] = sender
    message["To"] = details.email
    message["Subject"] = f"Grazie per la tua donazione - ricevuta n. {receipt.number}"
    name = details.first_name or details.display_name
    message.set_content(
        (f"Gentile {name},\n\n" if name else "Gentile donatrice, gentile donatore,\n\n")
        + f"grazie di cuore per la tua donazione di {format_eur(receipt.amount_cents)} del "
        f"{day(receipt.value_date)} a favore di «{campaign}».\n\n"
        f"In allegato trovi la ricevuta n. {receipt.number}."
        + (
            " È la prima ricevuta della tua donazione mensile: per le mensilità successive non "
            "riceverai un'e-mail ogni mese, le troverai tutte nel riepilogo annuale delle "
            "donazioni che ti invieremo a inizio anno.\n\n"
            if donation.instalment == FIRST_MONTH
            else "\n\n"
        )
        + f"Con gratitudine,\n{foundation.name}\n{foundation.address}\n"
    )
    message.add_attachment(
        receipt_pdf(receipt, foundation, campaign),
        maintype="application",
        subtype="pdf",
        filename=f"ricevuta-{receipt.number.replace('/', '-')}.pdf",
    )
    return message


def deliver(settings: SmtpSettings, message: EmailMessage) -> None:
    if settings.tls:
        with smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=30, context=ssl.create_default_context()
        ) as smtp:
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(message)
        return
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
        if settings.user:
            smtp.starttls(context=ssl.create_default_context())
            smtp.login(settings.user, settings.password)
        smtp.send_message(message)


def send_due(
    store: LedgerStore,
    settings: SmtpSettings,
    base_seconds: float = 60,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, int]:
    """Send every mail that is due now; returns how many were sent, skipped, failed."""
    store.runner.catch_up()
    attempts = MailAttempts(store.database, store.app.recorder.max_notification_id() or 0)
    counts = {SENT: 0, SKIPPED: 0, FAILED: 0}
    for mail in attempts.due(now(), base_seconds):
        if not attempts.claim(mail["mail_key"], mail["attempt"], now()):
            continue
        try:
            built = thank_you(
                store,
                UUID(mail["donation_id"]),
                mail["receipt_number"] or None,
                now(),
                settings.sender,
            )
            if isinstance(built, str):
                outcome, detail = SKIPPED, built
            else:
                deliver(settings, built)
                outcome, detail = SENT, f"to {built['To']}"
        except (OSError, smtplib.SMTPException, LedgerError) as error:
            outcome, detail = FAILED, f"{type(error).__name__}: {error}"
        attempts.finish(mail["mail_key"], mail["attempt"], outcome, detail)
        counts[outcome] += 1
    return counts


def follow(
    store: LedgerStore,
    settings: SmtpSettings,
    interval: float = 2.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Keep sending until stopped (safe to restart: attempts are recorded)."""
    while not stop():
        send_due(store, settings)
        time.sleep(interval)
