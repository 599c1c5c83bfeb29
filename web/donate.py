"""Online donations: the form, Stripe Checkout, and the pages a donor comes back to."""

import os
from typing import Any

import stripe
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired

from ledger.card_fees import STANDARD_EEA_CARD, CardPricing
from ledger.dates import today
from ledger.errors import InvalidInputError, NotFoundError
from ledger.gift import IN_HONOUR, IN_MEMORY, MAX_TRIBUTE_NAME, clean_tribute_name
from ledger.identity import normalize_tax_code
from ledger.money import format_eur, parse_cents
from projections.database import Database
from projections.reports import campaign_progress, list_campaigns
from web import bank, store
from web.auth import public_endpoint
from web.i18n import eur, language
from web.stripe_gateway import (
    DonationRequest,
    create_checkout,
    monthly_gift_portal,
    stripe_client,
)

bp = Blueprint("donate", __name__, url_prefix="/donate")
PRESETS = (1000, 2500, 5000, 10000)


def default_campaign() -> str:
    """LEDGER_DEFAULT_CAMPAIGN, or the newest campaign that has not ended."""
    return newest_open_campaign(store().database, current_app.config.get("LEDGER_DEFAULT_CAMPAIGN"))


def newest_open_campaign(database: Database, configured: str | None = None) -> str:
    """`configured` when given, else the newest campaign that has not ended (the slug a
    payment naming no campaign is given to)."""
    if configured:
        return str(configured)
    with database.reading() as session:
        open_campaigns = [c for c in list_campaigns(session) if not c.ended_on]
    if not open_campaigns:
        raise NotFoundError("no open campaign to give to")
    return open_campaigns[0].slug


class DonationForm(FlaskForm):
    amount = RadioField(
        choices=[SelectChoice(str(c), format_eur(c)) for c in PRESETS]
        + [SelectChoice("other", "…")],
        default="2500",
    )
    other_amount = StringField()
    frequency = RadioField(choices=[SelectChoice("once"), SelectChoice("monthly")], default="once")
    campaign = SelectField(validators=[DataRequired()])
    cover_fee = BooleanField()
    tribute_kind = RadioField(
        choices=[SelectChoice(""), SelectChoice(IN_MEMORY), SelectChoice(IN_HONOUR)],
        default="",
        validate_choice=False,
    )
    tribute_name = StringField()
    tax_code = StringField()
    privacy_consent = BooleanField(validators=[DataRequired()])
    marketing_consent = BooleanField()
    show_place = BooleanField()


def invalid(field: Any) -> dict[str, str]:
    """The attributes that tie a field in error to its message (see _field_errors.html)."""
    if not field.errors:
        return {}
    return {"aria-invalid": "true", "aria-describedby": f"{field.id}-error"}


def card_pricing() -> CardPricing:
    pricing: CardPricing = current_app.config["CARD_PRICING"]
    return pricing


def _tribute(form: DonationForm) -> tuple[str, str] | None:
    """(kind, name) of a gift in memory or in honour, ("", "") for none, None on an error."""
    kind = form.tribute_kind.data or ""
    if kind not in ("", IN_MEMORY, IN_HONOUR):
        kind = ""
    try:
        name = clean_tribute_name(form.tribute_name.data)
    except InvalidInputError:
        form.tribute_name.errors = [
            _("Write the name on one line, at most %d characters.") % MAX_TRIBUTE_NAME
        ]
        return None
    if kind and not name:
        form.tribute_name.errors = [
            _("Write the name of the person you want to remember or honour.")
        ]
        return None
    return (kind, name) if kind else ("", "")


def _amount_cents(form: DonationForm) -> int | None:
    """The chosen amount within the configured bounds, or None with the error on the form.

    A typed amount is what the donor means: with a preset still selected (a browser without
    our script), the two must agree, or the donor would be charged what they did not type."""
    low, high = current_app.config["DONATION_MIN_CENTS"], current_app.config["DONATION_MAX_CENTS"]
    typed = (form.other_amount.data or "").strip()
    try:
        typed_cents = parse_cents(typed) if typed else None
    except InvalidInputError:
        typed_cents = None
    if (typed or form.amount.data == "other") and typed_cents is None:
        form.other_amount.errors = [_("Write an amount in euro, e.g. 15 or 15.50.")]
        return None
    preset = None if form.amount.data == "other" else int(form.amount.data or 0)
    if preset is not None and typed_cents is not None and typed_cents != preset:
        form.other_amount.errors = [
            _(
                "You chose %(preset)s but typed %(typed)s: choose “Other” to give the amount you "
                "typed, or clear it.",
                preset=eur(preset),
                typed=eur(typed_cents),
            )
        ]
        return None
    cents = preset if preset is not None else typed_cents or 0
    if not low <= cents <= high:
        form.other_amount.errors = [
            _("The amount goes from %(low)s to %(high)s.", low=eur(low), high=eur(high))
        ]
        return None
    return cents


def _tax_code(form: DonationForm) -> str | None:
    try:
        return normalize_tax_code(form.tax_code.data) or ""
    except InvalidInputError:
        form.tax_code.errors = [_("Not a valid Italian tax code.")]
        return None


@bp.route("/", methods=["GET", "POST"])
@public_endpoint
def form() -> Any:
    configured = bool(current_app.config.get("STRIPE_SECRET_KEY"))
    with store().database.reading() as session:
        campaigns = [c for c in list_campaigns(session) if c.takes_gifts_on(today())]
    donation = DonationForm()
    donation.campaign.choices = [SelectChoice(c.slug, c.name) for c in campaigns]
    if not donation.is_submitted() and campaigns:
        # The configured campaign when it is running, else the newest one running today.
        offered = [c.slug for c in campaigns]
        preferred = str(current_app.config.get("LEDGER_DEFAULT_CAMPAIGN") or "")
        donation.campaign.data = preferred if preferred in offered else offered[0]
    status = 200
    valid = configured and donation.validate_on_submit()
    if donation.is_submitted():
        # Every field is checked, so that the donor sees all the errors at once.
        cents, tax_code, tribute = _amount_cents(donation), _tax_code(donation), _tribute(donation)
    else:  # the preselected amount, shown on the button
        cents, tax_code, tribute = int(donation.amount.data or 0), None, None
    if valid and cents is not None and tax_code is not None and tribute is not None:
        name = next(c.name for c in campaigns if c.slug == donation.campaign.data)
        fee = card_pricing().covering(cents) if donation.cover_fee.data else 0
        checkout = DonationRequest(
            campaign=donation.campaign.data or "",
            campaign_name=str(name),
            amount_cents=cents + fee,
            monthly=donation.frequency.data == "monthly",
            tax_code=tax_code,
            privacy_consent=True,
            marketing_consent=bool(donation.marketing_consent.data),
            success_url=url_for("donate.thanks", _external=True),
            cancel_url=url_for("donate.cancelled", _external=True),
            locale=language(),
            covered_fee_cents=fee,
            tribute_kind=tribute[0],
            tribute_name=tribute[1],
            show_place=bool(donation.show_place.data),
        )
        try:
            return redirect(create_checkout(_client(), checkout), code=303)
        except stripe.StripeError as error:
            current_app.logger.warning("checkout not created: %s", error)
            donation.form_errors.append(
                _("The payment service is not answering: please try again shortly.")
            )
            status = 503
    if donation.is_submitted() and status == 200:
        status = 422 if configured else 503
        if donation.campaign.errors:
            donation.campaign.errors = [
                _("This campaign no longer takes gifts: please choose another.")
            ]
        if donation.privacy_consent.errors:
            donation.privacy_consent.errors = [_("Privacy consent is required.")]
    chosen = next((c for c in campaigns if c.slug == donation.campaign.data), None)
    with store().database.reading() as session:
        figures = campaign_progress(session, chosen, today()) if chosen else None
    return render_template(
        "donate/form.html",
        form=donation,
        configured=configured,
        presets=PRESETS,
        bank=bank.bank_details(current_app, campaigns),
        figures=figures,
        pricing=card_pricing(),
        amount_cents=cents or 0,
        fee_cents=card_pricing().covering(cents) if cents else 0,
    ), status


def _client() -> stripe.StripeClient:
    return stripe_client(
        current_app.config["STRIPE_SECRET_KEY"], current_app.config.get("STRIPE_API_BASE")
    )


def _checkout_session_id() -> str:
    """The `session_id` Stripe adds to the thank-you address, when it looks like one."""
    value = request.values.get("session_id", "")
    return value if value.startswith("cs_") and value.isascii() and len(value) < 256 else ""


@bp.get("/grazie")
@public_endpoint
def thanks() -> str:
    """After a monthly gift, a button to manage or cancel it on Stripe's customer portal."""
    session_id = _checkout_session_id()
    monthly = False
    if session_id and current_app.config.get("STRIPE_SECRET_KEY"):
        try:
            checkout = _client().v1.checkout.sessions.retrieve(session_id)
            monthly = checkout.mode == "subscription" and bool(checkout.customer)
        except stripe.StripeError as error:
            current_app.logger.warning("checkout session not read: %s", error)
    return render_template("donate/done.html", thanks=True, monthly=monthly, session_id=session_id)


@bp.post("/gestisci")
@public_endpoint
def manage() -> Any:
    """Open Stripe's customer portal for the monthly gift of a checkout session: the donor
    changes the card or the amount, or cancels, there; the webhook records a cancellation."""
    session_id = _checkout_session_id()
    if not session_id or not current_app.config.get("STRIPE_SECRET_KEY"):
        abort(404)
    try:
        url = monthly_gift_portal(
            _client(), session_id, url_for("donate.form", _external=True), language()
        )
    except stripe.InvalidRequestError:
        abort(404)
    except stripe.StripeError as error:
        current_app.logger.warning("portal session not created: %s", error)
        return render_template("donate/done.html", thanks=True, portal_down=True), 503
    if url is None:
        abort(404)
    return redirect(url, code=303)


@bp.get("/annullata")
@public_endpoint
def cancelled() -> str:
    return render_template("donate/done.html", thanks=False)


def init_app(app: Flask) -> None:
    """Bounds of a free amount: LEDGER_DONATION_MIN / LEDGER_DONATION_MAX (euro), €1–€10,000.
    The fee a donor may cover: LEDGER_CARD_FEE, Stripe's standard EEA card pricing unless set
    (`1.5%+0.25`); a malformed value stops the app at start, naming the setting."""
    app.config.setdefault(
        "CARD_PRICING",
        CardPricing.parse(os.environ.get("LEDGER_CARD_FEE") or STANDARD_EEA_CARD),
    )
    for key, variable, default in (
        ("DONATION_MIN_CENTS", "LEDGER_DONATION_MIN", 100),
        ("DONATION_MAX_CENTS", "LEDGER_DONATION_MAX", 1_000_000),
    ):
        configured = os.environ.get(variable)
        app.config.setdefault(key, parse_cents(configured) if configured else default)
    bank.init_app(app)
    app.jinja_env.globals["invalid"] = invalid
    app.register_blueprint(bp)
