"""The foundation's back office under /admin: dashboard, donations, registry, exports, audit."""

import json
import uuid
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
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Optional

from ledger.dates import parse_date, today
from ledger.errors import InvalidInputError, NotFoundError
from ledger.gift import CHANNELS, DISTRICTS, Gift
from ledger.identity import DonorDetails
from ledger.money import parse_cents
from projections import registry, totals
from projections.audit import audit_entries
from projections.exports import ExportFilters
from projections.reports import list_campaigns, progress, raised_over_time
from web import store
from web.auth import roles_required
from web.charts import bars, cumulative
from web.exports import audited_export, csv_lines, xlsx_file
from web.i18n import tr

bp = Blueprint("admin", __name__, url_prefix="/admin")
BACK_OFFICE = ("admin", "staff")


def _campaign_choices(blank: str | None = None) -> list[SelectChoice]:
    with store().database.reading() as session:
        choices = [SelectChoice(c.slug, c.name) for c in list_campaigns(session)]
    return ([SelectChoice("", blank)] if blank is not None else []) + choices


def _optional_date(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    return parse_date(text) if text else None


# Dashboard


@bp.get("/")
@roles_required(*BACK_OFFICE)
def dashboard() -> str:
    campaigns = []
    for figures in progress(store().database):
        points, months = raised_over_time(store().database, figures["campaign"])
        title = tr(f"Raccolto nel tempo: {figures['name']}", f"Raised over time: {figures['name']}")
        campaigns.append(
            {
                **figures,
                "chart": cumulative(points, figures["target_cents"], title),
                "by_channel": bars(
                    [(k, v["raised_cents"]) for k, v in figures["by_channel"].items()],
                    tr("Per canale", "By channel"),
                ),
                "by_district": bars(
                    [(k or "—", v["raised_cents"]) for k, v in figures["by_district"].items()],
                    tr("Per distretto", "By district"),
                ),
                "by_month": bars(months, tr("Per mese", "By month")),
            }
        )
    return render_template("admin/dashboard.html", campaigns=campaigns)


# Donations


class BankTransferForm(FlaskForm):
    reference = StringField("Riferimento bancario (CRO/TRN)", validators=[DataRequired()])
    value_date = DateField("Data valuta", validators=[DataRequired()], default=today)
    campaign = SelectField("Campagna", validators=[DataRequired()])
    amount = StringField("Importo (€)", validators=[DataRequired()])
    district = SelectField(
        "Distretto",
        choices=[SelectChoice("", "—")] + [SelectChoice(d) for d in DISTRICTS],
        validators=[Optional()],
    )
    first_name = StringField("Nome")
    last_name = StringField("Cognome")
    organization = StringField("Ente / azienda")
    email = StringField("E-mail")
    phone = StringField("Telefono")
    address = StringField("Indirizzo")
    postcode = StringField("CAP")
    city = StringField("Comune")
    tax_code = StringField("Codice fiscale / P.IVA")
    privacy_consent = BooleanField("Consenso privacy")
    marketing_consent = BooleanField("Consenso a ricevere notizie")


class RefundForm(FlaskForm):
    refund_id = HiddenField()
    amount = StringField("Importo da rimborsare (€)", validators=[DataRequired()])
    on = DateField("Data", validators=[DataRequired()], default=today)
    reason = StringField("Motivo", validators=[DataRequired()])


class CorrectionForm(FlaskForm):
    amount = StringField("Importo corretto (€)", validators=[DataRequired()])
    value_date = DateField("Data valuta corretta", validators=[DataRequired()])
    reason = StringField("Motivo", validators=[DataRequired()])


@bp.get("/donations")
@roles_required(*BACK_OFFICE)
def donations() -> str:
    with store().database.reading() as session:
        gifts = totals.list_gifts(
            session,
            request.args.get("campaign", ""),
            request.args.get("channel", ""),
            _optional_date("from"),
            _optional_date("to"),
            request.args.get("donor", "").strip(),
        )
    return render_template(
        "admin/donations.html",
        gifts=gifts,
        channels=CHANNELS,
        campaigns=_campaign_choices(),
        args=request.args,
    )


@bp.route("/donations/new", methods=["GET", "POST"])
@roles_required(*BACK_OFFICE)
def new_bank_transfer() -> Any:
    form = BankTransferForm()
    form.campaign.choices = _campaign_choices()
    status = 200
    if form.validate_on_submit():
        try:
            details = DonorDetails.parse(
                **{
                    name: getattr(form, name).data
                    for name in (
                        "first_name",
                        "last_name",
                        "organization",
                        "email",
                        "phone",
                        "address",
                        "postcode",
                        "city",
                        "tax_code",
                    )
                }
            )
            gift = Gift(
                source_key="bank:" + (form.reference.data or "").strip().upper(),
                campaign=form.campaign.data or "",
                amount_cents=parse_cents(form.amount.data or ""),
                value_date=form.value_date.data or today(),
                channel="bank",
                method="bank_transfer",
                details=details,
                privacy_consent=bool(form.privacy_consent.data),
                marketing_consent=bool(form.marketing_consent.data),
                district=form.district.data or "",
            )
            added = store().app.record_gift(gift)
        except InvalidInputError as error:
            for name, messages in error.fields.items():
                field = getattr(form, name, None) or form.amount
                field.errors = [*field.errors, *messages]
            if not error.fields:
                form.amount.errors = [str(error)]
            status = 422
        else:
            flash(
                tr("Bonifico registrato.", "Transfer recorded.")
                if added
                else tr(
                    "Bonifico già registrato: nessuna modifica.",
                    "Transfer already recorded: no change.",
                ),
                "ok",
            )
            return redirect(url_for("admin.donation", donation_id=gift.donation_id))
    elif form.is_submitted():
        status = 422
    return render_template("admin/bank_transfer.html", form=form), status


def _gift(donation_id: UUID) -> dict[str, Any]:
    with store().database.reading() as session:
        found = totals.gift(session, str(donation_id))
    if found is None:
        raise NotFoundError(f"no gift {donation_id}")
    return found


@bp.get("/donations/<uuid:donation_id>")
@roles_required(*BACK_OFFICE)
def donation(donation_id: UUID) -> str:
    refund = RefundForm(refund_id=str(uuid.uuid4()))
    correction = CorrectionForm()
    return render_template(
        "admin/donation.html", gift=_gift(donation_id), refund=refund, correction=correction
    )


@bp.post("/donations/<uuid:donation_id>/refund")
@roles_required(*BACK_OFFICE)
def refund(donation_id: UUID) -> Any:
    gift, form = _gift(donation_id), RefundForm()
    if not form.validate_on_submit():
        raise InvalidInputError("importo, data e motivo sono necessari", form.errors)
    store().app.refund(
        gift["source_key"],
        f"manual:{form.refund_id.data}",
        parse_cents(form.amount.data or ""),
        form.on.data or today(),
        f"{form.reason.data} ({current_user.email})",
    )
    flash(tr("Rimborso registrato.", "Refund recorded."), "ok")
    return redirect(url_for("admin.donation", donation_id=donation_id))


@bp.post("/donations/<uuid:donation_id>/correct")
@roles_required(*BACK_OFFICE)
def correct(donation_id: UUID) -> Any:
    gift, form = _gift(donation_id), CorrectionForm()
    if not form.validate_on_submit():
        raise InvalidInputError("importo, data e motivo sono necessari", form.errors)
    store().app.correct_gift(
        gift["source_key"],
        parse_cents(form.amount.data or ""),
        form.value_date.data or today(),
        form.reason.data or "",
        current_user.email,
    )
    flash(tr("Correzione registrata.", "Correction recorded."), "ok")
    return redirect(url_for("admin.donation", donation_id=donation_id))


# Registry


class ConsentForm(FlaskForm):
    privacy = BooleanField("Consenso privacy")
    marketing = BooleanField("Consenso a ricevere notizie")
    how = StringField("Come (modulo firmato, e-mail del …)", validators=[DataRequired()])
    on = DateField("Data", validators=[DataRequired()], default=today)


class MergeForm(FlaskForm):
    into = StringField("Unisci in (id del donatore che resta)", validators=[DataRequired()])


class EraseForm(FlaskForm):
    reason = TextAreaField("Motivo (richiesta dell'interessato, …)", validators=[DataRequired()])
    force = BooleanField("Forza anche se i dati vanno conservati (solo amministratori)")


class SearchForm(FlaskForm):
    q = StringField("Cerca per nome, e-mail, telefono o codice fiscale")


@bp.route("/registry", methods=["GET", "POST"])
@roles_required(*BACK_OFFICE)
def registry_search() -> Any:
    """Searched by POST: e-mails, phones and tax codes never travel in a URL, so they stay
    out of access logs, proxies and browser history. A GET lists the registry."""
    form = SearchForm()  # CSRFProtect has already refused a POST without its token
    text = (form.q.data or "") if request.method == "POST" else ""
    with store().database.reading() as session:
        found = registry.search_donors(session, text)
    return render_template("admin/registry.html", donors=found, form=form)


@bp.get("/registry/duplicates")
@roles_required(*BACK_OFFICE)
def duplicates() -> str:
    with store().database.reading() as session:
        pairs = registry.suggested_duplicates(session)
    return render_template("admin/duplicates.html", pairs=pairs)


@bp.get("/registry/<donor_id>")
@roles_required(*BACK_OFFICE)
def donor(donor_id: str) -> Any:
    with store().database.reading() as session:
        current = registry.resolve(session, donor_id)
        if current != donor_id:
            return redirect(url_for("admin.donor", donor_id=current))
        entry = registry.donor(session, donor_id)
        if entry is None:
            raise NotFoundError(f"no donor {donor_id}")
        gifts = registry.donor_gifts(session, donor_id)
        consents = registry.donor_consents(session, donor_id)
    return render_template(
        "admin/donor.html",
        donor=entry,
        gifts=gifts,
        consents=consents,
        consent=ConsentForm(
            privacy=bool(entry["privacy_consent"]), marketing=bool(entry["marketing_consent"])
        ),
        merge=MergeForm(),
        erase=EraseForm(),
    )


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        abort(404, description=f"no donor {text}")


def _known_donor(donor_id: str) -> UUID:
    """The id of a donor the registry holds; an unknown id is a 404 before anything is
    recorded (the registry entry's aggregate would otherwise be made up on the spot)."""
    with store().database.reading() as session:
        if registry.donor(session, donor_id) is None:
            raise NotFoundError(f"no donor {donor_id}")
    return _uuid(donor_id)


@bp.post("/registry/<donor_id>/consent")
@roles_required(*BACK_OFFICE)
def change_consent(donor_id: str) -> Any:
    known = _known_donor(donor_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        raise InvalidInputError("say how and when the consent was given", form.errors)
    store().app.change_consent(
        known,
        bool(form.privacy.data),
        bool(form.marketing.data),
        form.how.data or "",
        form.on.data or today(),
        current_user.email,
    )
    flash(tr("Consenso aggiornato.", "Consent updated."), "ok")
    return redirect(url_for("admin.donor", donor_id=donor_id))


@bp.post("/registry/<donor_id>/merge")
@roles_required(*BACK_OFFICE)
def merge(donor_id: str) -> Any:
    known = _known_donor(donor_id)
    form = MergeForm()
    if not form.validate_on_submit():
        raise InvalidInputError("which donor does this one merge into?", form.errors)
    into = (form.into.data or "").strip()
    with store().database.reading() as session:
        if registry.donor(session, registry.resolve(session, into)) is None:
            raise NotFoundError(f"no donor {into}")
        into = registry.resolve(session, into)
    store().app.merge_donors(known, _uuid(into), current_user.email)
    flash(tr("Donatori uniti.", "Donors merged."), "ok")
    return redirect(url_for("admin.donor", donor_id=into))


@bp.get("/registry/<donor_id>/access")
@roles_required(*BACK_OFFICE)
def access_request(donor_id: str) -> Response:
    """Everything held on a donor, as one JSON file (GDPR art. 15); the access is audited."""
    with store().database.reading() as session:
        entry = registry.donor(session, donor_id)
        if entry is None:
            raise NotFoundError(f"no donor {donor_id}")
        gifts = registry.donor_gifts(session, donor_id)
        held = {
            "donor": entry,
            "identity_keys": registry.donor_keys(session, donor_id),
            "consents": registry.donor_consents(session, donor_id),
            "gifts": gifts,
        }
    app = store().app
    held["sealed_details"] = [
        {
            "donation_id": gift["donation_id"],
            "details": app.donor_of(app.repository.get(UUID(gift["donation_id"]))),
        }
        for gift in gifts
    ]
    app.record_audit("access_request", current_user.email, {"donor": donor_id}, len(gifts))
    body = json.dumps(held, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="donatore-{donor_id}.json"'},
    )


@bp.post("/registry/<donor_id>/erase")
@roles_required(*BACK_OFFICE)
def erase(donor_id: str) -> Any:
    form = EraseForm()
    if not form.validate_on_submit():
        raise InvalidInputError("an erasure needs its reason", form.errors)
    force = bool(form.force.data)
    if force and current_user.role != "admin":
        abort(
            403,
            description=tr(
                "Solo un amministratore può forzare una cancellazione.",
                "Only an admin can force an erasure.",
            ),
        )
    with store().database.reading() as session:
        if registry.donor(session, donor_id) is None:
            raise NotFoundError(f"no donor {donor_id}")
        donations, has_tax_code, last = registry.erasure_facts(session, donor_id)
    store().app.erase_donor(
        _uuid(donor_id),
        [UUID(d) for d in donations],
        has_tax_code,
        date.fromisoformat(last) if last else None,
        form.reason.data or "",
        current_user.email,
        force,
    )
    flash(
        tr(
            "Dati personali cancellati: i totali restano.", "Personal data erased: the totals stay."
        ),
        "ok",
    )
    return redirect(url_for("admin.donor", donor_id=donor_id))


# Exports and audit


def _filters() -> ExportFilters:
    return ExportFilters(
        campaign=request.args.get("campaign") or None,
        date_from=_optional_date("from"),
        date_to=_optional_date("to"),
        marketing_only=request.args.get("marketing_only") == "1",
        with_tax_code=request.args.get("with_tax_code") == "1",
    )


@bp.get("/exports")
@roles_required(*BACK_OFFICE)
def exports() -> str:
    return render_template("admin/exports.html", campaigns=_campaign_choices(""))


@bp.get("/exports/<kind>.<fmt>")
@roles_required(*BACK_OFFICE)
def export(kind: str, fmt: str) -> Any:
    if kind not in ("donors", "donations") or fmt not in ("csv", "xlsx"):
        abort(404)
    plan = audited_export(store(), kind, fmt, _filters(), current_user.email)
    database = store().database
    name = f"fondo-{kind}-{today().isoformat()}.{fmt}"
    if fmt == "xlsx":
        return send_file(
            xlsx_file(database, plan.sql, plan.params, plan.columns),
            as_attachment=True,
            download_name=name,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    return Response(
        stream_with_context(csv_lines(database, plan.sql, plan.params, plan.columns)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/audit")
@roles_required(*BACK_OFFICE)
def audit() -> str:
    with store().database.reading() as session:
        entries = audit_entries(session)
    return render_template("admin/audit.html", entries=entries)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
