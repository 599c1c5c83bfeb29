"""Sign-in: sessions for pages (flask-login, CSRF by flask-wtf), bearer tokens for the JSON API."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, ValidationError

from ledger.application import UserInfo
from ledger.errors import InvalidInputError
from ledger.user import user_email
from web import store, throttle
from web.errors import wants_json
from web.i18n import tr

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])


class SignedInUser(UserMixin):
    def __init__(self, info: UserInfo) -> None:
        self.info = info
        self.id = str(info.id)
        self.email = info.email
        self.role = info.role


@login_manager.user_loader
def load_user(user_id: str) -> SignedInUser | None:
    try:
        info = store().app.get_user(UUID(user_id))
    except ValueError:
        return None
    return SignedInUser(info) if info else None


def _bearer(req: Any) -> str | None:
    header = req.headers.get("Authorization", "")
    return header[len("Bearer "):].strip() if header.startswith("Bearer ") else None


@login_manager.request_loader
def load_user_from_token(req: Any) -> SignedInUser | None:
    token = _bearer(req)
    if token is None:
        return None
    info = store().app.user_for_token(token)
    return SignedInUser(info) if info else None


class TokenRequestSessions(SecureCookieSessionInterface):
    """A request with a bearer token is signed in by the token alone: it neither reads nor
    writes the session cookie. Otherwise a cookie kept from an earlier answer (a CSRF token,
    no sign-in) trips flask-login's strong session protection and the token is ignored."""

    def open_session(self, app: Flask, req: Request) -> SecureCookieSession | None:
        if _bearer(req) is not None:
            return self.session_class()
        return super().open_session(app, req)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if _bearer(request) is None:
            super().save_session(app, session, response)


@login_manager.unauthorized_handler
def unauthorized() -> Any:
    if wants_json():
        abort(401, description="sign in or send Authorization: Bearer TOKEN")
    return redirect(url_for("auth.login", next=request.full_path))


def public_endpoint(view: F) -> F:
    """Marks a view as open to everyone; the authorisation matrix test reads the mark."""
    view.access = ("public",)  # type: ignore[attr-defined]
    return view


def roles_required(*roles: str) -> Callable[[F], F]:
    """401 without a session or token, 403 with the wrong role; the mark lists the roles."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return unauthorized()
            if current_user.role not in roles:
                abort(403, description=tr("Non hai i permessi per questa pagina.",
                                          "You are not allowed to see this page."))
            return view(*args, **kwargs)

        wrapper.access = roles  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _user_email(_form: FlaskForm, field: Any) -> None:
    """The rule `ledger users add` applies: an address it refuses cannot sign in either."""
    try:
        user_email(field.data or "")
    except InvalidInputError:
        raise ValidationError(tr("Indirizzo e-mail non valido.", "Not a valid e-mail address.")
                              ) from None


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), _user_email])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("public.home")


@bp.route("/login", methods=["GET", "POST"])
@public_endpoint
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        account = (form.email.data or "").strip().lower()
        address = request.remote_addr or ""
        database = store().database
        wait = throttle.seconds_blocked(database, account, address)
        if wait:
            flash(tr(f"Troppi tentativi non riusciti: riprova tra {wait // 60 + 1} minuti.",
                     f"Too many failed attempts: try again in {wait // 60 + 1} minutes."),
                  "error")
            return render_template("login.html", form=form), 429
        info = store().app.authenticate(account, form.password.data or "")
        if info is not None:
            throttle.forget(database, account)
            session.clear()  # a fresh session on sign-in (no fixation)
            login_user(SignedInUser(info))
            return redirect(_safe_next(request.args.get("next")))
        throttle.record_failure(database, account, address)
        flash(tr("E-mail o password non corretti.", "Wrong e-mail or password."), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/logout", methods=["POST"])
@public_endpoint
def logout() -> Any:
    logout_user()
    return redirect(url_for("public.home"))


def init_app(app: Flask) -> None:
    app.session_interface = TokenRequestSessions()
    login_manager.session_protection = "strong"
    throttle.create_table(app.extensions["ledger_store"].database)
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(bp)
