"""The foundation's back office under /admin: dashboard, donations, registry, exports, audit."""

import json
import uuid
from datetime import UTC, date, datetime
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
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional, StopValidation

from ledger.dates import parse_date, today
from ledger.donor import retention_reason
from ledger.errors import ConflictError, InvalidInputError, LedgerError, NotFoundError
from ledger.gift import CHANNELS, DISTRICTS, Gift
from ledger.identity import DETAIL_FIELDS, DonorDetails
from ledger.money import parse_cents
from ledger.money_back import (
    BelowMoneyBackError,
    BeyondTheGiftError,
    NotConfirmedError,
    NothingToCorrectError,
)
from ledger.texts import Text
from projections import office, registry, totals
from projections.audit import audit_entries
from projections.database import Session
from projections.exports import ExportFilters
from projections.office import GiftFilters
from projections.reports import list_campaigns, progress, raised_over_time
from web import labels, store
from web.auth import roles_required
from web.charts import bars, cumulative
from web.exports import attachment, audited_export, csv_lines, xlsx_file
from web.i18n import error_text, translate
from web.pdf import Foundation

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
        with store().database.reading() as session:
            starts, ends = office.campaign_span(session, figures["campaign"])
        span = (
            date.fromisoformat(starts) if starts else None,
            date.fromisoformat(ends) if ends else today(),
        )
        title = _("Raised over time: {}").format(figures["name"])
        campaigns.append(
            {
                **figures,
                "chart": cumulative(points, figures["target_cents"], title, span),
                "by_channel": bars(
                    [
                        (labels.channel_label(k), v["raised_cents"])
                        for k, v in figures["by_channel"].items()
                    ],
                    _("By channel"),
                ),
                "by_district": bars(
                    [(k or "—", v["raised_cents"]) for k, v in figures["by_district"].items()],
                    _("By district"),
                ),
                "by_month": bars(months, _("By month")),
            }
        )
    return render_template("admin/dashboard.html", campaigns=campaigns)


# Donations


class Required:
    """A field that must be filled, said in the page's language (WTForms speaks English)."""

    field_flags = {"required": True}

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            field.errors[:] = []
            if field.raw_data and str(field.raw_data[0]).strip():
                raise StopValidation(_("Not a valid date."))
            raise StopValidation(_("This field is required."))


# The ledger's field problems that name the bound broken (a maximum, the dates allowed, the
# character refused), by msgid: a form shows them in the ledger's words, translated. Other
# problems (some quote back what was typed, which the field shows already) get the field's words.
_BOUNDS = (
    "at most %(amount)s",
    "dates go from %(first)s to %(last)s",
    "contains a control character (%(code)s) at position %(position)s",
)


def _problem(name: str, said: str = "") -> str:
    """The Italian (or English) words for what is wrong with a field the ledger refused
    (`said`: the ledger's own text, which may carry the limit)."""
    if isinstance(said, Text) and said.msgid in _BOUNDS:
        sentence = translate(said)
        return f"{sentence[:1].upper()}{sentence[1:]}."
    problems = {
        "email": _("Not an e-mail address."),
        "phone": _("Not a phone number."),
        "tax_code": _("Not a valid codice fiscale or partita IVA (format or check digit)."),
        "amount": _("Not an amount: write e.g. 25.00 (at most two decimals)."),
        "reference": _("Not a valid reference."),
        "district": _("Unknown district."),
        "campaign": _("Unknown campaign."),
        "date": _("Not a valid date."),
    }
    return problems.get(name, _("Not a valid value."))


def _amount(field: Field) -> int | None:
    """The field's amount in cents, or None with the reason next to the field."""
    try:
        cents = parse_cents(field.data or "")
    except InvalidInputError:
        field.errors = [*field.errors, _problem("amount")]
        return None
    if cents <= 0:
        field.errors = [
            *field.errors,
            _("The amount must be above zero."),
        ]
        return None
    return cents


def _refused(form: FlaskForm, error: LedgerError, fallback: str) -> None:
    """A refusal of the ledger shown next to the fields it names (or `fallback`)."""
    fields = getattr(error, "fields", {}) or {}
    for name in fields:
        field = getattr(form, "reference" if name == "source_key" else name, None)
        if field is None and name in ("date", "value_date"):
            field = getattr(form, "value_date", None) or getattr(form, "on", None)
        field = field or getattr(form, fallback)
        said = fields[name][0] if isinstance(fields[name], list) and fields[name] else ""
        field.errors = [*field.errors, _problem(name, said)]
    if not fields:
        field = getattr(form, fallback)
        field.errors = [*field.errors, _conflict(error)]


def _conflict(error: LedgerError) -> str:
    """A refusal without a field, in the back office's words where it has its own."""
    if isinstance(error, BeyondTheGiftError):
        return _("More than what is left of the gift after refunds and disputes.")
    if isinstance(error, NotConfirmedError):
        return _("The payment is not confirmed: nothing to refund yet.")
    if isinstance(error, BelowMoneyBackError):
        return _("The corrected amount is below what was already refunded.")
    if isinstance(error, NothingToCorrectError):
        return _("Nothing to correct: same amount and date.")
    return _("Refused: {}").format(error_text(error))


class BankTransferForm(FlaskForm):
    donor = HiddenField()
    find = StringField(
        lazy_gettext("Find a donor already in the registry (name, e-mail, phone, tax code)")
    )
    reference = StringField(lazy_gettext("Bank reference (CRO/TRN)"), validators=[Required()])
    value_date = DateField(lazy_gettext("Value date"), validators=[Required()], default=today)
    campaign = SelectField(lazy_gettext("Campaign"), validators=[Required()])
    amount = StringField(lazy_gettext("Amount (€)"), validators=[Required()])
    district = SelectField(
        lazy_gettext("District"),
        choices=[SelectChoice("", "—")] + [SelectChoice(d) for d in DISTRICTS],
        validators=[Optional()],
    )
    first_name = StringField(lazy_gettext("First name"))
    last_name = StringField(lazy_gettext("Surname"))
    organization = StringField(lazy_gettext("Organisation / company"))
    email = StringField(lazy_gettext("E-mail"))
    phone = StringField(lazy_gettext("Phone"))
    address = StringField(lazy_gettext("Address"))
    postcode = StringField(lazy_gettext("Postcode"))
    city = StringField(lazy_gettext("Comune"))
    tax_code = StringField(lazy_gettext("Tax code / VAT number"))
    privacy_consent = BooleanField(lazy_gettext("Privacy consent"))
    marketing_consent = BooleanField(lazy_gettext("Consent to receive news"))


# A donor's details as the transfer form asks them: all but the province, which the form
# does not ask (a donor found in the registry brings theirs).
IDENTITY = tuple(name for name in DETAIL_FIELDS if name != "province")
GIFT_FIELDS = ("reference", "value_date", "campaign", "amount", "district")


class RefundForm(FlaskForm):
    refund_id = HiddenField()
    amount = StringField(lazy_gettext("Amount to refund (€)"), validators=[Required()])
    on = DateField(lazy_gettext("Date"), validators=[Required()], default=today)
    reason = StringField(lazy_gettext("Reason"), validators=[Required()])


class CorrectionForm(FlaskForm):
    amount = StringField(lazy_gettext("Corrected amount (€)"), validators=[Required()])
    value_date = DateField(lazy_gettext("Corrected value date"), validators=[Required()])
    reason = StringField(lazy_gettext("Reason"), validators=[Required()])


@bp.get("/donations")
@roles_required(*BACK_OFFICE)
def donations() -> str:
    filters = GiftFilters(
        campaign=request.args.get("campaign", ""),
        channel=request.args.get("channel", ""),
        date_from=_optional_date("from"),
        date_to=_optional_date("to"),
        donor_id=request.args.get("donor", "").strip(),
    )
    with store().database.reading() as session:
        page = office.gift_page(session, filters, request.args.get("after", ""))
        donor_name = (
            (registry.donor(session, filters.donor_id) or {}).get("display_name", "")
            if filters.donor_id
            else ""
        )
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template(
        "admin/donations.html",
        page=page,
        channels=CHANNELS,
        campaigns=_campaign_choices(),
        args=request.args,
        donor_name=donor_name,
        next_url=url_for("admin.donations", **kept, after=page.after) if page.after else None,
        first_url=url_for("admin.donations", **kept) if request.args.get("after") else None,
    )


def _chosen_donor(donor_id: str) -> dict[str, Any] | None:
    """The registry entry a bank transfer is for (a merged id stands for its survivor)."""
    if not donor_id:
        return None
    with store().database.reading() as session:
        entry = registry.donor(session, registry.resolve(session, donor_id))
    return entry if entry and not entry["erased"] else None


@bp.route("/donations/new", methods=["GET", "POST"])
@roles_required(*BACK_OFFICE)
def new_bank_transfer() -> Any:
    """A transfer for a donor already in the registry (found by search here, or coming from
    their page; their details are the registry's) or for a new one (details typed here).
    Searching, choosing and recording are buttons of one form: nothing typed is lost."""
    form = BankTransferForm()
    form.campaign.choices = _campaign_choices()
    action = request.form.get("action", "record") if form.is_submitted() else "show"
    if request.form.get("choose"):
        action, form.donor.data = "choose", request.form["choose"]
    elif action == "show":
        form.donor.data = request.args.get("donor", "")
    elif action == "forget":
        form.donor.data = ""
    chosen = _chosen_donor(form.donor.data or "")
    found: list[dict[str, Any]] = []
    status = 200
    if form.donor.data and chosen is None:
        form.find.errors = [_("Donor not found: search again.")]
        form.donor.data, status = "", 422
    elif action == "find":
        with store().database.reading() as session:
            found = registry.search_donors(session, form.find.data or "", limit=20)
        if not found:
            form.find.errors = [_("No donor found.")]
    elif action == "record":
        if form.validate_on_submit() and (done := _record_transfer(form, chosen)) is not None:
            return done
        status = 422
    return render_template(
        "admin/bank_transfer.html",
        form=form,
        chosen=chosen,
        found=found,
        gift_fields=GIFT_FIELDS,
        identity=IDENTITY,
    ), status


def _record_transfer(form: BankTransferForm, chosen: dict[str, Any] | None) -> Any:
    """The transfer recorded and a redirect to it, or None with the reasons on the form."""
    cents = _amount(form.amount)
    try:
        if chosen is not None:
            details = DonorDetails.parse(**{name: chosen[name] for name in DETAIL_FIELDS})
        else:
            details = DonorDetails.parse(**{name: getattr(form, name).data for name in IDENTITY})
    except InvalidInputError as error:
        _refused(form, error, "amount")
        return None
    if cents is None:
        return None
    try:
        gift = Gift(
            source_key="bank:" + (form.reference.data or "").strip().upper(),
            campaign=form.campaign.data or "",
            amount_cents=cents,
            value_date=form.value_date.data or today(),
            channel="bank",
            method="bank_transfer",
            details=details,
            privacy_consent=bool(form.privacy_consent.data),
            marketing_consent=bool(form.marketing_consent.data),
            district=form.district.data or "",
        )
        added = store().app.record_gift(gift)
    except (InvalidInputError, ConflictError) as error:
        _refused(form, error, "reference")
        return None
    flash(
        _("Transfer recorded.") if added else _("Transfer already recorded: no change."),
        "ok",
    )
    return redirect(url_for("admin.donation", donation_id=gift.donation_id))


def _gift(donation_id: UUID) -> dict[str, Any]:
    with store().database.reading() as session:
        found = totals.gift(session, str(donation_id))
        if found is not None:
            found["campaign_name"] = office.campaign_names(session).get(
                found["campaign"], found["campaign"]
            )
            entry = registry.donor(session, found["donor_id"]) if found["donor_id"] else None
            found["donor_name"] = entry["display_name"] if entry else ""
    if found is None:
        raise NotFoundError(_("no gift %(id)s", id=donation_id))
    return found


def _donation_page(
    donation_id: UUID,
    refund: RefundForm | None = None,
    correction: CorrectionForm | None = None,
    status: int = 200,
) -> Any:
    return render_template(
        "admin/donation.html",
        gift=_gift(donation_id),
        refund=refund or RefundForm(refund_id=str(uuid.uuid4()), formdata=None),
        correction=correction or CorrectionForm(formdata=None),
        open_form="refund" if refund else "correction" if correction else "",
    ), status


@bp.get("/donations/<uuid:donation_id>")
@roles_required(*BACK_OFFICE)
def donation(donation_id: UUID) -> Any:
    return _donation_page(donation_id)


@bp.post("/donations/<uuid:donation_id>/refund")
@roles_required(*BACK_OFFICE)
def refund(donation_id: UUID) -> Any:
    """A refusal (a field missing, more than the gift) stays on the form, typing kept."""
    gift, form = _gift(donation_id), RefundForm()
    if not form.refund_id.data:
        form.refund_id.data = str(uuid.uuid4())
    if form.validate_on_submit() and (cents := _amount(form.amount)) is not None:
        try:
            store().app.refund(
                gift["source_key"],
                f"manual:{form.refund_id.data}",
                cents,
                form.on.data or today(),
                f"{form.reason.data} ({current_user.email})",
            )
        except (InvalidInputError, ConflictError) as error:
            _refused(form, error, "amount")
        else:
            flash(_("Refund recorded."), "ok")
            return redirect(url_for("admin.donation", donation_id=donation_id))
    return _donation_page(donation_id, refund=form, status=422)


@bp.post("/donations/<uuid:donation_id>/correct")
@roles_required(*BACK_OFFICE)
def correct(donation_id: UUID) -> Any:
    gift, form = _gift(donation_id), CorrectionForm()
    if form.validate_on_submit() and (cents := _amount(form.amount)) is not None:
        try:
            store().app.correct_gift(
                gift["source_key"],
                cents,
                form.value_date.data or today(),
                form.reason.data or "",
                current_user.email,
            )
        except (InvalidInputError, ConflictError) as error:
            _refused(form, error, "amount")
        else:
            flash(_("Correction recorded."), "ok")
            return redirect(url_for("admin.donation", donation_id=donation_id))
    return _donation_page(donation_id, correction=form, status=422)


# Registry


class ConsentForm(FlaskForm):
    privacy = BooleanField(lazy_gettext("Privacy consent"))
    marketing = BooleanField(lazy_gettext("Consent to receive news"))
    how = StringField(lazy_gettext("How (signed form, e-mail of …)"), validators=[Required()])
    on = DateField(lazy_gettext("Date"), validators=[Required()], default=today)


class EraseForm(FlaskForm):
    reason = TextAreaField(
        lazy_gettext("Reason (the person's request, …)"), validators=[Required()]
    )
    force = BooleanField(lazy_gettext("Force even if the data must be kept (admins only)"))
    confirmed = HiddenField()


class MergeForm(FlaskForm):
    first = HiddenField(validators=[Required()])
    second = HiddenField(validators=[Required()])
    survivor = RadioField(lazy_gettext("Which donor stays?"), validators=[Required()])


class SearchForm(FlaskForm):
    q = StringField(lazy_gettext("Search by name, e-mail, phone or tax code"))


@bp.route("/registry", methods=["GET", "POST"])
@roles_required(*BACK_OFFICE)
def registry_search() -> Any:
    """Searched by POST: e-mails, phones and tax codes never travel in a URL, so they stay
    out of access logs, proxies and browser history. A GET lists the registry. With
    `compare` (a donor's id) each donor found links to the side-by-side view with it."""
    form = SearchForm()  # CSRFProtect has already refused a POST without its token
    text = (form.q.data or "") if request.method == "POST" else ""
    compare = request.args.get("compare", "")
    with store().database.reading() as session:
        found = registry.search_donors(session, text)
        compared = registry.donor(session, compare) if compare else None
    return render_template("admin/registry.html", donors=found, form=form, compared=compared)


@bp.get("/registry/duplicates")
@roles_required(*BACK_OFFICE)
def duplicates() -> str:
    with store().database.reading() as session:
        pairs = registry.suggested_duplicates(session)
    return render_template("admin/duplicates.html", pairs=pairs)


def _donor_view(session: Session, donor_id: str) -> dict[str, Any]:
    """A donor as the back office shows it: details, gifts, consents, lifetime figures."""
    entry = registry.donor(session, donor_id)
    if entry is None:
        raise NotFoundError(_("no donor %(id)s", id=donor_id))
    names = office.campaign_names(session)
    gifts = [
        {**g, "campaign_name": names.get(g["campaign"], g["campaign"])}
        for g in registry.donor_gifts(session, donor_id)
    ]
    return {
        "donor": entry,
        "gifts": gifts,
        "consents": registry.donor_consents(session, donor_id),
        "lifetime": office.donor_lifetime(session, donor_id),
    }


def _donor_page(
    donor_id: str,
    consent: ConsentForm | None = None,
    erase: EraseForm | None = None,
    status: int = 200,
) -> Any:
    with store().database.reading() as session:
        view = _donor_view(session, donor_id)
        merged = registry.merged_into_donor(session, donor_id)
    entry = view["donor"]
    return render_template(
        "admin/donor.html",
        **view,
        merged=merged,
        consent=consent
        or ConsentForm(
            formdata=None,
            privacy=bool(entry["privacy_consent"]),
            marketing=bool(entry["marketing_consent"]),
        ),
        erase=erase or EraseForm(formdata=None),
        open_form="consent" if consent else "erase" if erase else "",
        undo=FlaskForm(formdata=None),
    ), status


@bp.get("/registry/<donor_id>")
@roles_required(*BACK_OFFICE)
def donor(donor_id: str) -> Any:
    with store().database.reading() as session:
        current = registry.resolve(session, donor_id)
    if current != donor_id:
        return redirect(url_for("admin.donor", donor_id=current))
    return _donor_page(donor_id)


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        abort(404, description=_("no donor %(id)s", id=text))


def _known_donor(donor_id: str) -> UUID:
    """The id of a donor the registry holds; an unknown id is a 404 before anything is
    recorded (the registry entry's aggregate would otherwise be made up on the spot)."""
    with store().database.reading() as session:
        if registry.donor(session, donor_id) is None:
            raise NotFoundError(_("no donor %(id)s", id=donor_id))
    return _uuid(donor_id)


@bp.post("/registry/<donor_id>/consent")
@roles_required(*BACK_OFFICE)
def change_consent(donor_id: str) -> Any:
    known = _known_donor(donor_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        return _donor_page(donor_id, consent=form, status=422)
    try:
        store().app.change_consent(
            known,
            bool(form.privacy.data),
            bool(form.marketing.data),
            form.how.data or "",
            form.on.data or today(),
            current_user.email,
        )
    except InvalidInputError as error:
        _refused(form, error, "how")
        return _donor_page(donor_id, consent=form, status=422)
    flash(_("Consent updated."), "ok")
    return redirect(url_for("admin.donor", donor_id=donor_id))


def _merge_form(first: str, second: str, names: dict[str, str]) -> MergeForm:
    form = MergeForm()
    form.survivor.choices = [SelectChoice(first, names[first]), SelectChoice(second, names[second])]
    return form


@bp.route("/registry/merge", methods=["GET", "POST"])
@roles_required(*BACK_OFFICE)
def merge() -> Any:
    """Two donors side by side (details, gifts, consents); staff choose which one stays
    and confirm. The other redirects to it from then on, until the merge is undone."""
    first = request.values.get("first", "")
    second = request.values.get("second", "")
    with store().database.reading() as session:
        first, second = registry.resolve(session, first), registry.resolve(session, second)
        if first == second:
            raise InvalidInputError(
                _("They are the same donor."),
                {"second": [_("Choose another donor.")]},
            )
        views = [_donor_view(session, first), _donor_view(session, second)]
    names = {
        v["donor"]["donor_id"]: v["donor"]["display_name"] or v["donor"]["donor_id"] for v in views
    }
    form = _merge_form(first, second, names)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            survivor = form.survivor.data or ""
            merged = second if survivor == first else first
            try:
                store().app.merge_donors(_uuid(merged), _uuid(survivor), current_user.email)
            except ConflictError as error:
                form.survivor.errors = [_conflict(error)]
            else:
                flash(
                    _("Donors merged. The merge can be undone from this page."),
                    "ok",
                )
                return redirect(url_for("admin.donor", donor_id=survivor))
        status = 422
    else:
        form.first.data, form.second.data = first, second
    return render_template("admin/merge.html", views=views, form=form), status


@bp.post("/registry/<donor_id>/unmerge")
@roles_required(*BACK_OFFICE)
def unmerge(donor_id: str) -> Any:
    """Undo a merge by a compensating event: both entries are again what they were."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    with store().database.reading() as session:
        if registry.merge_of(session, donor_id) is None:
            raise NotFoundError(_("no merge of donor %(id)s to undo", id=donor_id))
    into = store().app.unmerge_donors(_uuid(donor_id), current_user.email)
    flash(_("Merge undone."), "ok")
    return redirect(url_for("admin.donor", donor_id=str(into)))


def _held(donor_id: str) -> dict[str, Any]:
    """Everything held on a donor (GDPR art. 15), the sealed details of each gift included;
    the access is recorded in the audit trail."""
    with store().database.reading() as session:
        view = _donor_view(session, donor_id)
        view["identity_keys"] = registry.donor_keys(session, donor_id)
    app = store().app
    view["sealed_details"] = [
        {
            "donation_id": gift["donation_id"],
            "details": app.donor_of(app.repository.get(UUID(gift["donation_id"]))),
        }
        for gift in view["gifts"]
    ]
    app.record_audit("access_request", current_user.email, {"donor": donor_id}, len(view["gifts"]))
    return view


@bp.get("/registry/<donor_id>/access")
@roles_required(*BACK_OFFICE)
def access_request(donor_id: str) -> Response:
    """Everything held on a donor, as one JSON file (machine-readable, GDPR art. 15 and 20)."""
    held = _held(donor_id)
    body = json.dumps(held, ensure_ascii=False, indent=2, default=str)
    return attachment(body, f"donatore-{donor_id}.json", "application/json")


@bp.get("/registry/<donor_id>/access/document")
@roles_required(*BACK_OFFICE)
def access_document(donor_id: str) -> str:
    """The same as a document for the person: what is held, why, for how long, their rights."""
    return render_template(
        "admin/access_document.html",
        **_held(donor_id),
        foundation=Foundation.from_env(),
        now=datetime.now(UTC),
    )


@bp.post("/registry/<donor_id>/erase")
@roles_required(*BACK_OFFICE)
def erase(donor_id: str) -> Any:
    """Asked once, then confirmed on a page that says what goes and what stays."""
    form = EraseForm()
    if not form.validate_on_submit():
        return _donor_page(donor_id, erase=form, status=422)
    force = bool(form.force.data)
    if force and current_user.role != "admin":
        abort(
            403,
            description=_("Only an admin can force an erasure."),
        )
    with store().database.reading() as session:
        view = _donor_view(session, donor_id)
        donations, has_tax_code, last = registry.erasure_facts(session, donor_id)
    keep = retention_reason(has_tax_code, date.fromisoformat(last) if last else None, today())
    if keep and not force:
        form.reason.errors = [_("Erasure refused: %(reason)s.", reason=translate(keep))]
        return _donor_page(donor_id, erase=form, status=409)
    if form.confirmed.data != "1":
        form.confirmed.data = "1"
        return render_template("admin/erase_confirm.html", form=form, **view)
    try:
        store().app.erase_donor(
            _uuid(donor_id),
            [UUID(d) for d in donations],
            has_tax_code,
            date.fromisoformat(last) if last else None,
            form.reason.data or "",
            current_user.email,
            force,
        )
    except ConflictError as error:
        form.reason.errors = [error_text(error)]
        return _donor_page(donor_id, erase=form, status=409)
    flash(
        _("Personal data erased: the totals stay."),
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
    return attachment(
        stream_with_context(csv_lines(database, plan.sql, plan.params, plan.columns)),
        name,
        "text/csv; charset=utf-8",
    )


@bp.get("/audit")
@roles_required(*BACK_OFFICE)
def audit() -> str:
    with store().database.reading() as session:
        entries = audit_entries(session)
    return render_template("admin/audit.html", entries=entries)


def init_app(app: Flask) -> None:
    labels.init_app(app)
    app.register_blueprint(bp)
