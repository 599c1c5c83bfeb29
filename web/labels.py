"""Words for the codes the ledger stores (status, channel, method, audit action) and local times."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import gettext as _

from ledger.dates import zone
from ledger.texts import N_, Text
from web.i18n import language, translate

# The codes the ledger stores, in words: English msgids, which a page shows in its language
# (the filters below) and an export always in Italian (web/exports.py).
WORDS: dict[str, dict[str, Text]] = {
    "status": {"confirmed": N_("confirmed"), "pending": N_("pending"), "failed": N_("failed")},
    "channel": {
        "stand": N_("stand"),
        "online": N_("online"),
        "bank": N_("bank"),
        "event": N_("event"),
        "other": N_("other"),
    },
    "method": {
        "cash": N_("cash"),
        "card": N_("card"),
        "bank_transfer": N_("bank transfer"),
        "sepa_debit": N_("SEPA debit"),
        "postal": N_("postal order"),
        "paypal": N_("PayPal"),
        "cheque": N_("cheque"),
    },
}


def status_label(code: str) -> str:
    return translate(WORDS["status"].get(code, code))


def channel_label(code: str) -> str:
    return translate(WORDS["channel"].get(code, code))


def method_label(code: str) -> str:
    return translate(WORDS["method"].get(code, code))


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
