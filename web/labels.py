"""Words for the codes the ledger stores (status, channel, method, audit action) and local times."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import gettext as _

from ledger.dates import zone
from web.i18n import language


def status_label(code: str) -> str:
    labels = {
        "confirmed": _("confirmed"),
        "pending": _("pending"),
        "failed": _("failed"),
    }
    return labels.get(code, code)


def channel_label(code: str) -> str:
    labels = {
        "stand": _("stand"),
        "online": _("online"),
        "bank": _("bank"),
        "event": _("event"),
        "other": _("other"),
    }
    return labels.get(code, code)


def method_label(code: str) -> str:
    labels = {
        "cash": _("cash"),
        "card": _("card"),
        "bank_transfer": _("bank transfer"),
        "sepa_debit": _("SEPA debit"),
        "postal": _("postal order"),
        "paypal": _("PayPal"),
        "cheque": _("cheque"),
    }
    return labels.get(code, code)


def audit_label(action: str) -> str:
    """`export_donors_csv` → "Esportazione donatori (CSV)"; an unknown action as recorded."""
    if action.startswith("export_"):
        _export, kind, fmt = (action.split("_") + ["", ""])[:3]
        what = {
            "donors": _("Donor export"),
            "donations": _("Donation export"),
        }.get(kind, action)
        return f"{what} ({fmt.upper()})" if fmt else what
    labels = {
        "access_request": _("Access request (GDPR)"),
        "erasure": _("Erasure of personal data"),
        "merge": _("Donors merged"),
        "unmerge": _("Merge undone"),
        "consent_change": _("Consent change"),
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
