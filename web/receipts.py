"""Receipts, the AdE file and the fundraising reports, for the back office and the CLI."""

import csv
import io
import os
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, StringField
from wtforms.validators import DataRequired, NumberRange

from ledger.agenzia import agenzia_file, choose_transmission
from ledger.dates import today as foundation_today
from ledger.errors import InvalidInputError, NotFoundError
from ledger.fundraising import record_expense
from ledger.mail import request_receipt_mail
from ledger.money import parse_cents
from ledger.receipt_book import parse_receipt_number, receipt_number
from ledger.receipts import IssueOutcome, Receipts
from projections import receipts as receipts_view
from projections.agenzia import Line, agenzia_lines, file_records
from projections.fundraising import fundraising_report
from projections.outbox import mail_status
from projections.reports import list_campaigns
from projections.runner import ReadModelStalledError
from projections.store import LedgerStore
from web import store as current_store
from web.auth import roles_required
from web.exports import attachment
from web.i18n import error_text
from web.pdf import Foundation, fundraising_pdf, receipt_pdf, statement_pdf


def issue_year(
    store: LedgerStore, year: int, on: date, progress: Callable[[int, int], None] | None = None
) -> IssueOutcome:
    """Receipt every identified, confirmed gift of `year` that has none in force; first void
    the receipts whose gift was refunded since, so that they are issued anew."""
    store.runner.catch_up()
    refuse_when_stalled(store)
    receipts = Receipts(store.app)
    with store.database.reading() as session:
        stale = receipts_view.receipts_out_of_date(session, year)
    for number in stale:
        receipts.void(
            number,
            "importo cambiato dopo l'emissione (rimborso o contestazione persa)",
            "ledger",
            on,
        )
    store.runner.catch_up()
    with store.database.reading() as session:
        keys = receipts_view.gifts_to_receipt(session, year)
    outcome = receipts.issue(
        keys, on, progress=(lambda done: progress(done, len(keys))) if progress else None
    )
    store.runner.catch_up()
    return outcome


def _campaign_names(store: LedgerStore) -> dict[str, str]:
    with store.database.reading() as session:
        return {c.slug: c.name for c in list_campaigns(session)}


def receipt_document(store: LedgerStore, number: str) -> tuple[str, bytes]:
    """The receipt's file name and PDF."""
    receipt = Receipts(store.app).document(number)
    name = _campaign_names(store).get(receipt.campaign, receipt.campaign)
    return (
        f"ricevuta-{receipt.number.replace('/', '-')}.pdf",
        receipt_pdf(receipt, Foundation.from_env(), name),
    )


def statement_document(store: LedgerStore, year: int, donor: str) -> tuple[str, bytes]:
    """The annual statement of the donor with this tax code or e-mail (or registry id)."""
    refuse_when_stalled(store)
    with store.database.reading() as session:
        donor_id = (
            donor
            if receipts_view.is_registry_id(session, donor)
            else receipts_view.find_donor(session, donor)
        )
        gift_ids = receipts_view.donor_gift_ids(session, donor_id, year)
    receipts = Receipts(store.app).in_force(year, [UUID(g) for g in gift_ids])
    if not receipts:
        raise NotFoundError(
            f"no receipt in force for {donor.strip()} in {year}: issue the year's receipts first"
        )
    details = next((r.donor for r in reversed(receipts) if r.donor is not None), None)
    return (
        f"riepilogo-{year}-{donor_id[:8]}.pdf",
        statement_pdf(year, details, receipts, Foundation.from_env(), foundation_today()),
    )


def refuse_when_stalled(store: LedgerStore) -> None:
    """Refuse when a read model stopped at an event: a receipt run, the AdE file or a signed
    report from it would silently leave gifts out. (Catching up is the caller's: the follower
    for pages, the CLI before its commands.)"""
    stalls = store.runner.stalls()
    if stalls:
        raise ReadModelStalledError(stalls)


def agenzia_export(store: LedgerStore, year: int) -> tuple[str, list[Line]]:
    """The year's AdE file and the lines behind it (for the accountant's CSV)."""
    refuse_when_stalled(store)
    with store.database.reading() as session:
        lines = agenzia_lines(session, year)
    donors, refunds = file_records(lines)
    foundation = Foundation.from_env()
    text = agenzia_file(
        year,
        foundation.tax_code,
        foundation.name,
        os.environ.get("LEDGER_FOUNDATION_ENTITY_TYPE") or "onlus",
        donors,
        refunds,
    )
    return text, lines


ACCOUNTANT_COLUMNS = (
    "anno",
    "tipo",
    "codice_fiscale",
    "donatore",
    "importo",
    "anno_erogazione",
    "trasmesso",
    "motivo_esclusione",
)


def accountant_csv(year: int, lines: list[Line]) -> str:
    """The same data for Italian Excel: `;`, decimal comma, BOM so accents open right."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(ACCOUNTANT_COLUMNS)
    for line in lines:
        writer.writerow(
            (
                year,
                line.kind,
                line.tax_code,
                line.name,
                _comma(line.amount_cents),
                line.gift_year,
                "sì" if line.included else "no",
                line.reason,
            )
        )
    return "\ufeff" + out.getvalue()


def fundraising_documents(store: LedgerStore, slug: str, use_of_funds: str) -> tuple[bytes, str]:
    """The campaign's rendiconto as PDF and as CSV (Italian Excel)."""
    name = store.app.get_campaign(slug).name
    refuse_when_stalled(store)
    with store.database.reading() as session:
        report = fundraising_report(session, slug)
    pdf = fundraising_pdf(name, report, use_of_funds, Foundation.from_env(), foundation_today())
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(("sezione", "data", "voce", "distretto", "persone", "importo"))
    for line in report["income"]:
        writer.writerow(
            (
                "entrata",
                line["day"],
                line["stand"],
                line["district"],
                line["people"],
                _comma(line["cents"]),
            )
        )
    for line in report["expenses"]:
        writer.writerow(("spesa", line["on"], line["what"], "", "", _comma(line["cents"])))
    writer.writerow(("risultato netto", "", "", "", "", _comma(report["net_cents"])))
    return pdf, "\ufeff" + out.getvalue()


def _comma(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    euro, rest = divmod(abs(cents), 100)
    return f"{sign}{euro},{rest:02d}"


# The back office's Receipts section (/admin/receipts)

bp = Blueprint("receipts", __name__, url_prefix="/admin/receipts")
BACK_OFFICE = ("admin", "staff")


class IssueForm(FlaskForm):
    year = IntegerField(lazy_gettext("Year"), validators=[DataRequired(), NumberRange(2000, 2999)])


class VoidForm(FlaskForm):
    reason = StringField(lazy_gettext("Reason for voiding"), validators=[DataRequired()])


class ResendForm(FlaskForm):
    """Only the CSRF token: each click is one more request to send the receipt."""


class OppositionForm(FlaskForm):
    donor = StringField(lazy_gettext("The donor's tax code or e-mail"), validators=[DataRequired()])
    year = IntegerField(lazy_gettext("Year"), validators=[DataRequired(), NumberRange(2000, 2999)])
    how = StringField(
        lazy_gettext("How they asked (e-mail of …, form)"), validators=[DataRequired()]
    )
    withdraw = BooleanField(lazy_gettext("Withdraw the objection"))


class ExpenseForm(FlaskForm):
    amount = StringField(lazy_gettext("Amount (€)"), validators=[DataRequired()])
    on = DateField(lazy_gettext("Date"), validators=[DataRequired()])
    what = StringField(lazy_gettext("Description"), validators=[DataRequired()])


def _year() -> int:
    text = request.args.get("year", "").strip()
    if not text:
        return foundation_today().year - 1  # statements and the AdE file look back a year
    return _year_of(text)


def _number(year: str, sequence: str) -> str:
    """`2015`, `2` from the address → `2015/000002` (or a 422 for anything else)."""
    parsed_year, parsed_sequence = parse_receipt_number(f"{year}/{sequence}")
    return receipt_number(parsed_year, parsed_sequence)


def _year_of(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 2000 <= int(text) <= 2999:
        raise InvalidInputError(_("Not a valid year."), {"year": ["YYYY"]})
    return int(text)


def _form_problem(form: FlaskForm) -> InvalidInputError:
    return InvalidInputError(
        _("Check the form's fields."),
        {name: list(errors) for name, errors in form.errors.items()},
    )


@bp.get("/")
@roles_required(*BACK_OFFICE)
def index() -> str:
    year = _year()
    ledger = current_store()
    with ledger.database.reading() as session:
        rows = receipts_view.list_receipts(session, year)
        years = sorted({year, *receipts_view.receipt_years(session)}, reverse=True)
        to_issue = len(receipts_view.gifts_to_receipt(session, year))
        mails = mail_status(session, limit=50)
    return render_template(
        "admin/receipts.html",
        year=year,
        years=years,
        receipts=rows,
        to_issue=to_issue,
        mails=mails,
        smtp=bool(os.environ.get("LEDGER_SMTP_URL")),
        issue=IssueForm(year=year),
        void=VoidForm(),
        resend=ResendForm(),
        oppose=OppositionForm(year=year),
        campaigns=_campaign_names(ledger),
    )


@bp.post("/issue")
@roles_required(*BACK_OFFICE)
def issue() -> Any:
    form = IssueForm()
    if not form.validate_on_submit():
        raise _form_problem(form)
    outcome = issue_year(current_store(), int(form.year.data or 0), foundation_today())
    flash(
        _(
            "%(issued)d receipts issued, %(skipped)d left out.",
            issued=len(outcome.issued),
            skipped=len(outcome.skipped),
        ),
        "ok",
    )
    return redirect(url_for("receipts.index", year=form.year.data))


@bp.get("/<year>/<sequence>.pdf")
@roles_required(*BACK_OFFICE)
def pdf(year: str, sequence: str) -> Response:
    name, body = receipt_document(current_store(), _number(year, sequence))
    return attachment(body, name, "application/pdf")


@bp.post("/<year>/<sequence>/void")
@roles_required(*BACK_OFFICE)
def void(year: str, sequence: str) -> Any:
    form = VoidForm()
    if not form.validate_on_submit():
        raise _form_problem(form)
    Receipts(current_store().app).void(
        _number(year, sequence), form.reason.data or "", current_user.email, foundation_today()
    )
    flash(
        _("Receipt %(number)s voided: the number stays.", number=_number(year, sequence)),
        "ok",
    )
    return redirect(url_for("receipts.index", year=year))


@bp.post("/<year>/<sequence>/resend")
@roles_required(*BACK_OFFICE)
def resend(year: str, sequence: str) -> Any:
    form = ResendForm()
    if not form.validate_on_submit():
        raise _form_problem(form)
    app = current_store().app
    receipt = Receipts(app).document(_number(year, sequence))
    request_receipt_mail(app, receipt.number, receipt.donation_id, current_user.email)
    flash(_("Receipt queued for sending."), "ok")
    return redirect(url_for("receipts.index", year=year))


@bp.get("/statement")
@roles_required(*BACK_OFFICE)
def statement() -> Response:
    name, body = statement_document(current_store(), _year(), request.args.get("donor", ""))
    return attachment(body, name, "application/pdf")


@bp.post("/opposition")
@roles_required(*BACK_OFFICE)
def opposition() -> Any:
    form = OppositionForm()
    if not form.validate_on_submit():
        raise _form_problem(form)
    ledger = current_store()
    with ledger.database.reading() as session:
        donor_id = receipts_view.find_donor(session, form.donor.data or "")
    choose_transmission(
        ledger.app,
        donor_id,
        int(form.year.data or 0),
        not form.withdraw.data,
        form.how.data or "",
        current_user.email,
    )
    flash(_("The donor's choice is recorded."), "ok")
    return redirect(url_for("receipts.index", year=form.year.data))


@bp.get("/agenzia-entrate/<year>.<fmt>")
@roles_required(*BACK_OFFICE)
def agenzia(year: str, fmt: str) -> Response:
    if fmt not in ("txt", "csv"):
        abort(404)
    year_number = _year_of(year)
    text, lines = agenzia_export(current_store(), year_number)
    current_store().app.record_audit(
        "export",
        current_user.email,
        {"kind": "agenzia-entrate", "year": year_number, "format": fmt},
        len(lines),
    )
    if fmt == "csv":
        return attachment(
            accountant_csv(year_number, lines), f"erogazioni-{year}.csv", "text/csv; charset=utf-8"
        )
    return attachment(
        text.encode("ascii"), f"erogazioni-liberali-{year}.txt", "text/plain; charset=us-ascii"
    )


@bp.route("/fundraising/<slug>", methods=["GET", "POST"])
@roles_required(*BACK_OFFICE)
def fundraising(slug: str) -> Any:
    ledger = current_store()
    name = ledger.app.get_campaign(slug).name
    form = ExpenseForm()
    status = 200
    if form.validate_on_submit():
        try:
            record_expense(
                ledger.app,
                slug,
                parse_cents(form.amount.data or ""),
                form.on.data or foundation_today(),
                form.what.data or "",
                current_user.email,
            )
        except InvalidInputError as error:
            form.amount.errors = [*form.amount.errors, error_text(error)]
            status = 422
        else:
            flash(_("Expense recorded."), "ok")
            return redirect(url_for("receipts.fundraising", slug=slug))
    elif form.is_submitted():
        status = 422
    with ledger.database.reading() as session:
        report = fundraising_report(session, slug)
    return render_template(
        "admin/fundraising.html", slug=slug, name=name, report=report, form=form
    ), status


@bp.get("/fundraising/<slug>.<fmt>")
@roles_required(*BACK_OFFICE)
def fundraising_file(slug: str, fmt: str) -> Response:
    if fmt not in ("pdf", "csv"):
        abort(404)
    pdf_body, table = fundraising_documents(current_store(), slug, request.args.get("use", ""))
    if fmt == "pdf":
        return attachment(pdf_body, f"rendiconto-{slug}.pdf", "application/pdf")
    return attachment(table, f"rendiconto-{slug}.csv", "text/csv; charset=utf-8")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
