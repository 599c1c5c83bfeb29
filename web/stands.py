"""Piazza stands for volunteers: phone pages under /stands and the /api/v1/stands JSON API."""

import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask.views import MethodView
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_smorest import Blueprint as ApiBlueprint
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema, ValidationError, fields, validate, validates
from werkzeug.exceptions import HTTPException
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired

from ledger.bounds import MAX_PIECES, max_gift_cents
from ledger.cash_count import (
    DENOMINATIONS,
    AlreadyCountedError,
    CashBelowNamedError,
    CountsDisagreeError,
    CountsMissingError,
    StandClosedError,
)
from ledger.dates import today
from ledger.errors import ConflictError, InvalidInputError, LedgerError
from ledger.gift import DISTRICTS, NamedGift
from ledger.identity import DonorDetails
from ledger.money import parse_cents
from ledger.stands import stand_state
from projections.reports import list_campaigns
from projections.stands import list_stands, reconciliation
from web import store
from web.api import register
from web.auth import public_endpoint, roles_required
from web.i18n import day, error_text, eur, translate

STAND_ROLES = ("volunteer", "staff", "admin")
STAFF_ROLES = ("staff", "admin")

bp = Blueprint("stands", __name__, url_prefix="/stands")
api = ApiBlueprint(
    "stands_api",
    __name__,
    url_prefix="/api/v1/stands",
    description="Piazza stands: taps, named gifts, cash counts, close",
)


# JSON API


class OpenStandSchema(Schema):
    campaign = fields.String(required=True, validate=validate.Length(min=1))
    place = fields.String(required=True, validate=validate.Length(min=1, max=200))
    comune = fields.String(required=True, validate=validate.Length(min=1, max=100))
    district = fields.String(required=True, validate=validate.OneOf(DISTRICTS))
    day = fields.Date(required=True)
    volunteers = fields.List(
        fields.String(validate=validate.Length(min=1)),
        required=True,
        validate=validate.Length(min=1),
    )


class TallySchema(Schema):
    entry_id = fields.UUID(required=True)
    amount_cents = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1))


class UndoSchema(Schema):
    entry_id = fields.UUID(required=True)


class NamedGiftSchema(Schema):
    entry_id = fields.UUID(required=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.String(load_default="")
    phone = fields.String(load_default="")
    tax_code = fields.String(load_default="")
    amount_cents = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    privacy_consent = fields.Boolean(required=True)
    marketing_consent = fields.Boolean(load_default=False)


class CountSchema(Schema):
    entry_id = fields.UUID(
        load_default=None, metadata={"description": "made by the phone: a resend is a no-op"}
    )
    recount = fields.Boolean(
        load_default=False,
        metadata={"description": "replaces the signed-in volunteer's own earlier count"},
    )
    denominations = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_PIECES)),
        required=True,
    )

    @validates("denominations")
    def known_denominations(self, value: dict[str, int], **_kwargs: Any) -> None:
        unknown = sorted(set(value) - {str(d) for d in DENOMINATIONS})
        if unknown:
            raise ValidationError(
                f"unknown denominations (cents): {', '.join(unknown)}; "
                f"use {', '.join(str(d) for d in DENOMINATIONS)}"
            )


class CountInSchema(Schema):
    counter = fields.String(metadata={"description": "the account that counted"})
    total_cents = fields.Integer()
    replaced = fields.Boolean(metadata={"description": "its counter has counted again since"})


class ClosingSchema(Schema):
    counted_cents = fields.Integer()
    named_cents = fields.Integer()
    anonymous_cents = fields.Integer()
    tallied = fields.Integer()
    named = fields.Integer()


class StandSchema(Schema):
    id = fields.String()
    campaign = fields.String()
    place = fields.String()
    comune = fields.String()
    district = fields.String()
    day = fields.String()
    volunteers = fields.List(fields.String())
    status = fields.String(metadata={"description": "open or closed"})
    version = fields.Integer(metadata={"description": "grows with every change of the stand"})
    tallied = fields.Integer(metadata={"description": "givers tapped, minus undone taps"})
    named = fields.Integer()
    named_cents = fields.Integer()
    tallied_cents = fields.Integer(metadata={"description": "the amounts some taps carried"})
    givers = fields.Integer(metadata={"description": "tallied givers + named givers"})
    counts = fields.List(fields.Nested(CountInSchema))
    closing = fields.Nested(ClosingSchema, allow_none=True)


def _state(stand_id: UUID) -> dict[str, Any]:
    return stand_state(store().app.get_stand(stand_id))


@api.route("")
class StandsCollection(MethodView):
    @roles_required(*STAND_ROLES)
    @api.arguments(OpenStandSchema)
    @api.response(201, StandSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Open a stand (the same opening sent again returns the same stand)."""
        stand_id = store().app.open_stand(
            body["campaign"],
            body["place"],
            body["comune"],
            body["district"],
            body["day"],
            body["volunteers"],
        )
        return _state(stand_id)


@api.route("/<uuid:stand_id>")
class StandResource(MethodView):
    @roles_required(*STAND_ROLES)
    @api.response(200, StandSchema)
    def get(self, stand_id: UUID) -> dict[str, Any]:
        """The stand as it is now."""
        return _state(stand_id)


@api.route("/<uuid:stand_id>/tallies")
class Tallies(MethodView):
    @roles_required(*STAND_ROLES)
    @api.arguments(TallySchema)
    @api.response(200, StandSchema)
    def post(self, body: dict[str, Any], stand_id: UUID) -> dict[str, Any]:
        """One more giver (+1); a resent entry_id is a no-op."""
        store().app.tally_gift(stand_id, str(body["entry_id"]), body["amount_cents"])
        return _state(stand_id)


@api.route("/<uuid:stand_id>/tallies/undo")
class UndoTally(MethodView):
    @roles_required(*STAND_ROLES)
    @api.arguments(UndoSchema)
    @api.response(200, StandSchema)
    def post(self, body: dict[str, Any], stand_id: UUID) -> dict[str, Any]:
        """Take back the tap `entry_id` (a compensating event)."""
        store().app.undo_tally(stand_id, str(body["entry_id"]))
        return _state(stand_id)


@api.route("/<uuid:stand_id>/named-gifts")
class NamedGifts(MethodView):
    @roles_required(*STAND_ROLES)
    @api.arguments(NamedGiftSchema)
    @api.response(200, StandSchema)
    def post(self, body: dict[str, Any], stand_id: UUID) -> dict[str, Any]:
        """A giver who leaves a contact (privacy consent required; marketing separate)."""
        details = DonorDetails.parse(
            first_name=body["first_name"],
            last_name=body["last_name"],
            email=body["email"],
            phone=body["phone"],
            tax_code=body["tax_code"],
        )
        store().app.log_named_gift(
            stand_id,
            NamedGift(
                str(body["entry_id"]),
                details,
                body["amount_cents"],
                body["privacy_consent"],
                body["marketing_consent"],
            ),
        )
        return _state(stand_id)


@api.route("/<uuid:stand_id>/counts")
class Counts(MethodView):
    @roles_required(*STAND_ROLES)
    @api.arguments(CountSchema)
    @api.response(200, StandSchema)
    def post(self, body: dict[str, Any], stand_id: UUID) -> dict[str, Any]:
        """The signed-in volunteer's count of the cash, by denomination (keys in cents); the
        stand closes on the counts of two different accounts."""
        denominations = {int(value): pieces for value, pieces in body["denominations"].items()}
        entry_id = str(body["entry_id"]) if body["entry_id"] else ""
        store().app.count_cash(
            stand_id, current_user.email, denominations, entry_id, body["recount"]
        )
        return _state(stand_id)


@api.route("/<uuid:stand_id>/close")
class Close(MethodView):
    @roles_required(*STAND_ROLES)
    @api.response(200, StandSchema)
    @api.alt_response(
        409,
        description="the counts disagree, or the stand is already closed; "
        "the body carries the message and the current state",
    )
    def post(self, stand_id: UUID) -> Any:
        """Close: records the named gifts and one anonymous tally gift."""
        try:
            return store().app.close_stand(stand_id)
        except ConflictError as conflict:
            state = _state(stand_id)
            # Closed from another phone meanwhile: to this one, simply a closed stand.
            closed = state["status"] != "open"
            message = _conflict_message(StandClosedError() if closed else conflict)
            return jsonify(code=409, status="Conflict", message=message, state=state), 409


# The stand page shows the API's answers as they come: in its language, amounts in euro.


def _conflict_message(conflict: ConflictError) -> str:
    if isinstance(conflict, StandClosedError):
        return _("The stand is closed: nothing more can be recorded.")
    if isinstance(conflict, CountsMissingError):
        return _("Two different volunteers must each count, each signed in with their own account.")
    if isinstance(conflict, CountsDisagreeError):
        return _(
            "The two counts differ: {first} and {second}, a difference of "
            "{difference}. One of you should count again."
        ).format(
            first=eur(conflict.first),
            second=eur(conflict.second),
            difference=eur(abs(conflict.first - conflict.second)),
        )
    if isinstance(conflict, CashBelowNamedError):
        return _(
            "The cash counted ({counted}) is less than the gifts with a contact "
            "({named}): please count again."
        ).format(counted=eur(conflict.counted), named=eur(conflict.named))
    if isinstance(conflict, AlreadyCountedError):
        return _(
            "You have already counted: the second count is another volunteer's, "
            "with their own account. To correct yours, use “Count again”."
        )
    return _(
        "Not recorded: the stand changed meanwhile (another phone) or this "
        "entry had already arrived with other data. Reload the page."
    )


def _field_messages() -> dict[str, str]:
    """What the stand page says beside a refused field, whatever the rule that refused it."""
    messages = {
        "first_name": _("Write the first name."),
        "last_name": _("Write the last name."),
        "email": _("Not a valid e-mail address (e.g. name@example.org)."),
        "phone": _("Not a valid phone number."),
        "tax_code": _("Not a valid codice fiscale: 16 characters, check the letters and digits."),
        "contact": _("At least one contact is needed: e-mail, phone or codice fiscale."),
        "privacy_consent": _(
            "Consent to the processing of data is needed to keep the contact; otherwise use +1."
        ),
        "amount_cents": _("Not a valid amount: from {least} to {most}.").format(
            least=eur(1), most=eur(max_gift_cents())
        ),
        "denominations": _("Not a valid number of pieces: whole numbers from 0 up."),
    }
    return messages


def _refused_fields(fields_: dict[str, Any]) -> dict[str, list[str]]:
    """Webargs' `{"json": {field: [...]}}` or the domain's `{field: [...]}`: the page's fields
    in its words, any other as the rule said it."""
    inner = fields_.get("json", fields_) if isinstance(fields_, dict) else {}
    known = _field_messages()
    return {
        str(name): [known[name]] if name in known else _texts(said) for name, said in inner.items()
    }


def _texts(said: Any) -> list[str]:
    """A rule's own words, in the page's language."""
    if isinstance(said, list) and all(isinstance(text, str) for text in said):
        return [translate(text) for text in said]
    return [translate(said) if isinstance(said, str) else str(said)]


@api.errorhandler(LedgerError)
def _stand_error(error: LedgerError) -> Any:
    if isinstance(error, InvalidInputError):
        return _invalid(error.fields)
    if isinstance(error, ConflictError):
        return jsonify(code=409, status="Conflict", message=_conflict_message(error)), 409
    return jsonify(code=404, status="Not Found", message=_("Stand not found.")), 404


@api.errorhandler(422)
def _unprocessable(error: HTTPException) -> Any:
    data = getattr(error, "data", None)
    return _invalid(data.get("messages", {}) if isinstance(data, dict) else {})


def _invalid(fields_: dict[str, Any]) -> Any:
    refused = _refused_fields(fields_)
    summary = "; ".join(message for messages in refused.values() for message in messages)
    return jsonify(
        code=422,
        status="Unprocessable Entity",
        message=_("Not recorded: ") + (summary or _("invalid data.")),
        errors=refused,
    ), 422


# Pages


class OpenStandForm(FlaskForm):
    campaign = SelectField("Campagna", validators=[DataRequired()])
    place = StringField("Luogo (piazza)", validators=[DataRequired()])
    comune = StringField("Comune", validators=[DataRequired()])
    district = SelectField("Distretto", choices=[SelectChoice(d) for d in DISTRICTS])
    day = DateField("Giorno", validators=[DataRequired()], default=today)
    volunteers = StringField(
        "Volontari presenti (separati da virgola)", validators=[DataRequired()]
    )


class DepositForm(FlaskForm):
    reference = StringField(lazy_gettext("Bank reference (CRO/TRN)"), validators=[DataRequired()])
    amount = StringField(lazy_gettext("Amount deposited (€)"), validators=[DataRequired()])
    day = DateField(lazy_gettext("Day of the deposit"), validators=[DataRequired()], default=today)
    stands = SelectMultipleField(lazy_gettext("Stands"), validators=[DataRequired()])


def _open_campaign_choices() -> list[SelectChoice]:
    with store().database.reading() as session:
        return [
            SelectChoice(c.slug, c.name)
            for c in list_campaigns(session)
            if c.takes_gifts_on(today())
        ]


@bp.route("/", methods=["GET", "POST"])
@roles_required(*STAND_ROLES)
def index() -> Any:
    form = OpenStandForm()
    form.campaign.choices = _open_campaign_choices()
    if form.validate_on_submit():
        volunteers = [name.strip() for name in (form.volunteers.data or "").split(",")]
        stand_id = store().app.open_stand(
            form.campaign.data or "",
            form.place.data or "",
            form.comune.data or "",
            form.district.data or "",
            form.day.data or today(),
            volunteers,
        )
        return redirect(url_for("stands.stand", stand_id=stand_id))
    if form.campaign.errors:
        form.campaign.errors = [_("This campaign no longer takes gifts: please choose another.")]
    with store().database.reading() as session:
        stands = list_stands(session)
    return render_template("stands/index.html", form=form, stands=stands), (
        422 if form.is_submitted() else 200
    )


@bp.get("/csrf-token")
@roles_required(*STAND_ROLES)
def csrf_token() -> Any:
    """A fresh CSRF token for a stand page open all day: its first one expires, or goes stale
    when the volunteer signs in again, while taps are still waiting in the phone."""
    return jsonify(csrf_token=generate_csrf())


# The count form shows these first; the rest wait behind "altri tagli".
COMMON_DENOMINATIONS = (5000, 2000, 1000, 500, 200, 100, 50, 20, 10)


def _page_texts() -> dict[str, str]:
    """What stands.js says, in the page's language ({n}, {amount}, … filled in there)."""
    return {
        "online": _("Online"),
        "offline": _(
            "Offline: everything waits in the queue on this phone and is sent once it is back"
        ),
        "all_recorded": _("Everything recorded"),
        "queued": _("{n} queued, not recorded yet"),
        "state_queued": _("queued"),
        "state_recorded": _("recorded"),
        "state_refused": _("not recorded"),
        "named_queued": _(
            "Queued: {name}, {amount}. It becomes “recorded” once the server confirms."
        ),
        "named_recorded": _("Recorded: {name}, {amount}."),
        "named_refused": _("Not recorded: {name}. Correct the fields shown and record again."),
        "count_queued": _(
            "Count queued: {amount}. It becomes “recorded” once the server confirms."
        ),
        "count_recorded": _("Count recorded: {amount}."),
        "count_refused": _("Count not recorded: {message}"),
        "count_button": _("Record the count"),
        "recount_button": _("Count again (replaces your count)"),
        "replaced": _("replaced"),
        "need_name": _("Write the first and last name."),
        "need_amount": _("Write an amount in euro, e.g. 10 or 12.50."),
        "need_contact": _("At least one contact is needed: e-mail, phone or codice fiscale."),
        "bad_email": _("Not a valid e-mail address (e.g. name@example.org)."),
        "bad_phone": _("Not a valid phone number: 6 to 15 digits, with + in front if from abroad."),
        "bad_tax_code": _(
            "Not a valid codice fiscale: 16 characters (or an 11-digit partita "
            "IVA), check the letters and digits."
        ),
        "need_privacy": _(
            "Consent to the processing of data is needed to keep the contact; otherwise use +1."
        ),
        "session_expired": _(
            "Session expired: {n} waiting stay on this phone and are sent once you sign in again."
        ),
        "sign_in_again": _("Sign in again"),
        "others_waiting": _(
            "· {n} from another volunteer on this phone, sent without showing them "
            "(a cash count only once its counter signs in again)"
        ),
        "kept": _("Not sent, kept in the queue ({status}): {message}"),
        "server_trouble": _("the server is not answering as it should, trying again shortly"),
        "close_waiting": _(
            "Some entries are not sent yet: close once the network is back and the queue is empty."
        ),
        "close_offline": _("Offline: closing needs the server, try again once it is back."),
        "correct": _("Correct"),
        "need_two_counts": _(
            "Two different volunteers must each count, each signed in with their own account."
        ),
        "closed_message": _("Closed: {amount} counted."),
        "closed_banner": _(
            "Stand closed: {counted} counted, {named} of it from givers with a "
            "contact; {givers} givers."
        ),
    }


@bp.get("/<uuid:stand_id>")
@roles_required(*STAND_ROLES)
def stand(stand_id: UUID) -> Any:
    state = _state(stand_id)
    me = current_user.email.lower()
    return render_template(
        "stands/stand.html",
        stand=state,
        common=COMMON_DENOMINATIONS,
        rare=[d for d in DENOMINATIONS if d not in COMMON_DENOMINATIONS],
        texts=_page_texts(),
        counted_by_me=any(c["counter"].lower() == me for c in state["counts"]),
    )


def _worker_version(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@bp.get("/sw.js")
@public_endpoint
def service_worker() -> Any:
    """The stand pages' service worker: it keeps the page and its assets for a phone with no
    network. Its cache is named after the files it keeps, so a new release replaces it."""
    static = Path(current_app.static_folder or "")
    source = static / "stands-sw.js"
    assets = [url_for("static", filename=name) for name in ("stands.js", "style.css")]
    version = _worker_version([source, static / "stands.js", static / "style.css"])
    body = (
        f"var CACHE = {json.dumps('fondo-stands-' + version)};\n"
        f"var ASSETS = {json.dumps(assets)};\n" + source.read_text(encoding="utf-8")
    )
    response = make_response(body)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = url_for("stands.index")
    return response


@bp.route("/reconciliation", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def reconcile() -> Any:
    with store().database.reading() as session:
        closed = list_stands(session, "closed")
        lines = reconciliation(session)
    form = DepositForm()
    form.stands.choices = [
        SelectChoice(s["stand_id"], f"{s['place']} ({day(s['day'])})") for s in closed
    ]
    if form.validate_on_submit():
        try:
            store().app.record_deposit(
                form.reference.data or "",
                parse_cents(form.amount.data or ""),
                form.day.data or today(),
                [UUID(value) for value in form.stands.data or []],
            )
        except InvalidInputError as error:
            # The reason next to the field it concerns, what was typed kept.
            fields = {"amount_cents": "amount", "on": "day", "stands": "stands"}
            named = {fields.get(name, name): messages for name, messages in error.fields.items()}
            for name, messages in named.items():
                field = getattr(form, name, None) or form.amount
                field.errors = [*field.errors, *(translate(m) for m in messages)]
            if not error.fields:
                form.amount.errors = [*form.amount.errors, error_text(error)]
        else:
            flash(_("Deposit recorded."), "ok")
            return redirect(url_for("stands.reconcile"))
    return render_template("stands/reconciliation.html", form=form, lines=lines), (
        422 if form.is_submitted() else 200
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register(app, api)
