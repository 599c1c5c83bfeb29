"""Words for the codes the ledger stores (status, channel, method, audit action) and local times."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from ledger.dates import zone
from web.i18n import language, tr


def status_label(code: str) -> str:
    labels = {
        "confirmed": tr("confermata", "confirmed"),
        "pending": tr("in attesa", "pending"),
        "failed": tr("non riuscita", "failed"),
    }
    return labels.get(code, code)


def channel_label(code: str) -> str:
    labels = {
        "stand": tr("banchetto", "stand"),
        "online": tr("online", "online"),
        "bank": tr("banca", "bank"),
        "event": tr("evento", "event"),
        "other": tr("altro", "other"),
    }
    return labels.get(code, code)


def method_label(code: str) -> str:
    labels = {
        "cash": tr("contanti", "cash"),
        "card": tr("carta", "card"),
        "bank_transfer": tr("bonifico", "bank transfer"),
        "sepa_debit": tr("addebito SEPA", "SEPA debit"),
        "postal": tr("bollettino postale", "postal order"),
        "paypal": tr("PayPal", "PayPal"),
        "cheque": tr("assegno", "cheque"),
    }
    return labels.get(code, code)


def audit_label(action: str) -> str:
    """`export_donors_csv` → "Esportazione donatori (CSV)"; an unknown action as recorded."""
    if action.startswith("export_"):
        _export, kind, fmt = (action.split("_") + ["", ""])[:3]
        what = {
            "donors": tr("Esportazione donatori", "Donor export"),
            "donations": tr("Esportazione donazioni", "Donation export"),
        }.get(kind, action)
        return f"{what} ({fmt.upper()})" if fmt else what
    labels = {
        "access_request": tr("Richiesta di accesso (GDPR)", "Access request (GDPR)"),
        "erasure": tr("Cancellazione dei dati personali", "Erasure of personal data"),
        "merge": tr("Unione di donatori", "Donors merged"),
        "unmerge": tr("Unione annullata", "Merge undone"),
        "consent_change": tr("Cambio di consenso", "Consent change"),
    }
    return labels.get(action, action)


def local_time(value: str | datetime | None) -> str:
    """An instant (ISO text or datetime; UTC when it names no zone) as the foundation reads
    it: its own time zone (LEDGER_TIMEZONE, Europe/Rome), `dd/mm/yyyy HH:MM` in Italian."""
    if not value:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo("UTC"))
    local = when.astimezone(zone())
    return local.strftime("%d/%m/%Y %H:%M" if language() == "it" else "%d %b %Y %H:%M")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        status=status_label,
        channel=channel_label,
        method=method_label,
        audit_action=audit_label,
        local_time=local_time,
    )
