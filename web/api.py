"""The JSON API under /api/v1, described by OpenAPI 3 at /api/openapi.json."""

from datetime import date
from typing import Any

from apispec import APISpec, BasePlugin
from flask import Flask, request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields
from werkzeug.routing import Rule

from projections.reports import progress
from web import store
from web.auth import csrf, public_endpoint, signed_in_by_token

campaigns = Blueprint(
    "campaigns",
    __name__,
    url_prefix="/api/v1/campaigns",
    description="Campaign progress (public, no personal data)",
)


class BucketSchema(Schema):
    raised_cents = fields.Integer(required=True)
    gifts = fields.Integer(required=True)


class ProgressSchema(Schema):
    campaign = fields.String(required=True, metadata={"description": "campaign slug"})
    name = fields.String(required=True)
    target_cents = fields.Integer(required=True)
    raised_cents = fields.Integer(
        required=True, metadata={"description": "received gifts minus refunds and lost disputes"}
    )
    received_cents = fields.Integer(required=True)
    refunded_cents = fields.Integer(required=True)
    disputed_cents = fields.Integer(required=True)
    fees_cents = fields.Integer(required=True)
    net_cents = fields.Integer(required=True, metadata={"description": "raised minus fees"})
    donors = fields.Integer(required=True, metadata={"description": "contacts + anonymous people"})
    gifts = fields.Integer(required=True)
    contacts = fields.Integer(required=True)
    anonymous_people = fields.Integer(required=True)
    monthly_gifts = fields.Integer(
        required=True, metadata={"description": "monthly gifts running (not cancelled)"}
    )
    monthly_cents = fields.Integer(
        required=True, metadata={"description": "what the running monthly gifts give a month"}
    )
    progress = fields.Float(allow_none=True, metadata={"description": "raised / target"})
    starts_on = fields.String(allow_none=True)
    ends_on = fields.String(allow_none=True)
    as_of = fields.String(required=True)
    by_channel = fields.Dict(keys=fields.String(), values=fields.Nested(BucketSchema))
    by_district = fields.Dict(keys=fields.String(), values=fields.Nested(BucketSchema))


class AsOfSchema(Schema):
    as_of = fields.Date(load_default=None, metadata={"description": "value date, ISO"})


@campaigns.route("/<slug>/progress")
class CampaignProgress(MethodView):
    @campaigns.arguments(AsOfSchema, location="query")
    @campaigns.response(200, ProgressSchema)
    @public_endpoint
    def get(self, query: dict[str, Any], slug: str) -> dict[str, Any]:
        """Raised against target, donors, contacts and gifts, as of a value date."""
        as_of: date | None = query.get("as_of")
        return progress(store().database, slug, as_of)[0]


def _csrf_unless_bearer() -> None:
    """Pages call the API with their session cookie and a CSRF header; a valid token needs
    neither (a junk one signs nobody in, so it skips nothing)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or signed_in_by_token():
        return
    if not current_user.is_authenticated:
        return  # no session to protect: the view answers 401 (or is public)
    csrf.protect()


def register(app: Flask, blueprint: Blueprint) -> None:
    """Add an API blueprint: exempt from form CSRF, checked by `_csrf_unless_bearer` instead."""
    csrf.exempt(blueprint)
    if _csrf_unless_bearer not in blueprint.before_request_funcs.get(None, []):
        blueprint.before_request(_csrf_unless_bearer)
    app.extensions["smorest_api"].register_blueprint(blueprint)


class AccessPlugin(BasePlugin):
    """Declares in the OpenAPI how each operation is opened, from the access mark its view
    carries (the one `roles_required` enforces): no security for public ones; a token or the
    sign-in session, with their 401 and 403 answers, for the others. (flask-smorest already
    declares 422 wherever an operation reads input.)"""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        spec.components.security_scheme(
            "bearerAuth",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "a personal token from `ledger users token EMAIL`",
            },
        )
        spec.components.security_scheme(
            "cookieAuth",
            {
                "type": "apiKey",
                "in": "cookie",
                "name": self.app.config["SESSION_COOKIE_NAME"],
                "description": "the sign-in session of the pages, sent with its companion "
                "cookie fondo_presence (without it the session ends); writes also need the "
                "X-CSRFToken header",
            },
        )

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule: Rule | None = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method, operation in operations.items():
            handler = getattr(view_class, method, None) if view_class else view
            responses = operation.setdefault("responses", {})
            if "public" in getattr(handler, "access", ()):
                operation["security"] = []
            else:
                operation["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
                responses.setdefault("401", "UNAUTHORIZED")
                responses.setdefault("403", "FORBIDDEN")


def init_app(app: Flask) -> None:
    app.extensions["smorest_api"] = Api(app, spec_kwargs={"extra_plugins": [AccessPlugin(app)]})
    register(app, campaigns)
