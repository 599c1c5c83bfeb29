"""Online donations: the form, Stripe Checkout, and the pages a donor comes back to."""

import os
from typing import Any

import stripe
from flask import Blueprint, Flask, current_app, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired

from ledger.dates import today
from ledger.errors import InvalidInputError, NotFoundError
from ledger.identity import normalize_tax_code
from ledger.money import format_eur, parse_cents
from projections.database import Database
from projections.reports import list_campaigns
from web import bank, store
from web.auth import public_endpoint
from web.i18n import language, tr
from web.stripe_gateway import DonationRequest, create_checkout, stripe_client

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
    tax_code = StringField()
    privacy_consent = BooleanField(validators=[DataRequired()])
    marketing_consent = BooleanField()


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
        form.other_amount.errors = [
            tr(
                "Scrivi un importo in euro, per esempio 15 o 15,50.",
                "Write an amount in euro, e.g. 15 or 15.50.",
            )
        ]
        return None
    preset = None if form.amount.data == "other" else int(form.amount.data or 0)
    if preset is not None and typed_cents is not None and typed_cents != preset:
        form.other_amount.errors = [
            tr(
                f"Hai scelto {format_eur(preset)} ma scritto {format_eur(typed_cents)}: scegli "
                "«Altro» per donare l'importo scritto, oppure cancellalo.",
                f"You chose {format_eur(preset, 'en')} but typed {format_eur(typed_cents, 'en')}: "
                "choose “Other” to give the amount you typed, or clear it.",
            )
        ]
        return None
    cents = preset if preset is not None else typed_cents or 0
    if not low <= cents <= high:
        form.other_amount.errors = [
            tr(
                f"L'importo va da {format_eur(low)} a {format_eur(high)}.",
                f"The amount goes from {format_eur(low, 'en')} to {format_eur(high, 'en')}.",
            )
        ]
        return None
    return cents


def _tax_code(form: DonationForm) -> str | None:
    try:
        return normalize_tax_code(form.tax_code.data) or ""
    except InvalidInputError:
        form.tax_code.errors = [
            tr("Codice fiscale o partita IVA non valido.", "Not a valid Italian tax code.")
        ]
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
    if configured and donation.validate_on_submit():
        cents, tax_code = _amount_cents(donation), _tax_code(donation)
        if cents is not None and tax_code is not None:
            name = next(c.name for c in campaigns if c.slug == donation.campaign.data)
            request = DonationRequest(
                campaign=donation.campaign.data or "",
                campaign_name=str(name),
                amount_cents=cents,
                monthly=donation.frequency.data == "monthly",
                tax_code=tax_code,
                privacy_consent=True,
                marketing_consent=bool(donation.marketing_consent.data),
                success_url=url_for("donate.thanks", _external=True),
                cancel_url=url_for("donate.cancelled", _external=True),
                locale=language(),
            )
            client = stripe_client(
                current_app.config["STRIPE_SECRET_KEY"], current_app.config.get("STRIPE_API_BASE")
            )
            try:
                return redirect(create_checkout(client, request), code=303)
            except stripe.StripeError as error:
                current_app.logger.warning("checkout not created: %s", error)
                donation.form_errors.append(
                    tr(
                        "Il servizio di pagamento non risponde: riprova tra poco.",
                        "The payment service is not answering: please try again shortly.",
                    )
                )
                status = 503
    if donation.is_submitted() and status == 200:
        status = 422 if configured else 503
        if donation.campaign.errors:
            donation.campaign.errors = [
                tr(
                    "Questa campagna non raccoglie più donazioni: scegline un'altra.",
                    "This campaign no longer takes gifts: please choose another.",
                )
            ]
        if donation.privacy_consent.errors:
            donation.privacy_consent.errors = [
                tr("Serve il consenso al trattamento dei dati.", "Privacy consent is required.")
            ]
    return render_template(
        "donate/form.html",
        form=donation,
        configured=configured,
        presets=PRESETS,
        bank=bank.bank_details(current_app, campaigns),
    ), status


@bp.get("/grazie")
@public_endpoint
def thanks() -> str:
    return render_template("donate/done.html", thanks=True)


@bp.get("/annullata")
@public_endpoint
def cancelled() -> str:
    return render_template("donate/done.html", thanks=False)


def init_app(app: Flask) -> None:
    """Bounds of a free amount: LEDGER_DONATION_MIN / LEDGER_DONATION_MAX (euro), €1–€10,000."""
    for key, variable, default in (
        ("DONATION_MIN_CENTS", "LEDGER_DONATION_MIN", 100),
        ("DONATION_MAX_CENTS", "LEDGER_DONATION_MAX", 1_000_000),
    ):
        configured = os.environ.get(variable)
        app.config.setdefault(key, parse_cents(configured) if configured else default)
    bank.init_app(app)
    app.register_blueprint(bp)
