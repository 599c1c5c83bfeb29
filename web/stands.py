"""Piazza stands for volunteers: phone pages under /stands and the /api/v1/stands JSON API."""

from typing import Any
from uuid import UUID

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, url_for
from flask.views import MethodView
from flask_smorest import Blueprint as ApiBlueprint
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema, ValidationError, fields, validate, validates
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired

from ledger.bounds import MAX_PIECES
from ledger.dates import today
from ledger.errors import ConflictError
from ledger.gift import DISTRICTS, NamedGift
from ledger.identity import DonorDetails
from ledger.money import parse_cents
from ledger.stand import DENOMINATIONS
from projections.reports import list_campaigns
from projections.stands import list_stands, reconciliation
from web import store
from web.api import register
from web.auth import roles_required
from web.i18n import tr

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
    counter = fields.String(required=True, validate=validate.Length(min=1, max=100))
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
    counter = fields.String()
    total_cents = fields.Integer()


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
    tallied = fields.Integer(metadata={"description": "givers tapped, minus undone taps"})
    named = fields.Integer()
    named_cents = fields.Integer()
    counts = fields.List(fields.Nested(CountInSchema))
    closing = fields.Nested(ClosingSchema, allow_none=True)


def _state(stand_id: UUID) -> dict[str, Any]:
    return store().app.get_stand(stand_id).state()


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
        """One volunteer's count of the cash, by denomination (keys in cents)."""
        denominations = {int(value): pieces for value, pieces in body["denominations"].items()}
        store().app.count_cash(stand_id, body["counter"], denominations)
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
            return jsonify(
                code=409, status="Conflict", message=str(conflict), state=_state(stand_id)
            ), 409


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
    reference = StringField("Riferimento bancario (CRO/TRN)", validators=[DataRequired()])
    amount = StringField("Importo versato (€)", validators=[DataRequired()])
    day = DateField("Data del versamento", validators=[DataRequired()], default=today)
    stands = SelectMultipleField("Banchetti", validators=[DataRequired()])


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
        form.campaign.errors = [
            tr(
                "Questa campagna non raccoglie più donazioni: scegline un'altra.",
                "This campaign no longer takes gifts: please choose another.",
            )
        ]
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


@bp.get("/<uuid:stand_id>")
@roles_required(*STAND_ROLES)
def stand(stand_id: UUID) -> Any:
    return render_template("stands/stand.html", stand=_state(stand_id), denominations=DENOMINATIONS)


@bp.route("/reconciliation", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def reconcile() -> Any:
    with store().database.reading() as session:
        closed = list_stands(session, "closed")
        lines = reconciliation(session)
    form = DepositForm()
    form.stands.choices = [
        SelectChoice(s["stand_id"], f"{s['place']} ({s['day']})") for s in closed
    ]
    if form.validate_on_submit():
        store().app.record_deposit(
            form.reference.data or "",
            parse_cents(form.amount.data or ""),
            form.day.data or today(),
            [UUID(value) for value in form.stands.data or []],
        )
        flash(tr("Versamento registrato.", "Deposit recorded."), "ok")
        return redirect(url_for("stands.reconcile"))
    return render_template("stands/reconciliation.html", form=form, lines=lines), (
        422 if form.is_submitted() else 200
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register(app, api)
