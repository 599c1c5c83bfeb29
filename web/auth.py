"""Sign-in: sessions for pages (flask-login, CSRF by flask-wtf), bearer tokens for the JSON API."""

import functools
import os
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from ledger.application import UserInfo
from ledger.errors import ConflictError, InvalidInputError
from ledger.user import MIN_PASSWORD, ROLES, user_email
from web import sessions, store, throttle
from web.errors import wants_json
from web.i18n import translate_fields

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])
API_PREFIX = "/api/"
# The half of a session the page's own script can delete (the session cookie is HttpOnly): a
# phone signed out with no network deletes it (signout.js), and the session it goes with ends
# at the phone's next request, before the next volunteer can use it. Sessions begun before it
# existed carry no half to check.
PRESENCE_COOKIE = "fondo_presence"


class SignedInUser(UserMixin):
    def __init__(self, info: UserInfo, via_token: bool = False) -> None:
        self.info = info
        self.id = str(info.id)
        self.email = info.email
        self.role = info.role
        self.via_token = via_token


def _idle_and_max_seconds() -> tuple[int, int]:
    """How long a session may sit unused, and how long it may last at all."""
    return (
        int(current_app.config["LEDGER_SESSION_IDLE_MINUTES"]) * 60,
        int(current_app.permanent_session_lifetime.total_seconds()),
    )


@login_manager.user_loader
def load_user(user_id: str) -> SignedInUser | None:
    """A session holds while its row does (see web/sessions.py) and the user's session
    generation is the one it began in (a new password or a deactivation ends it)."""
    session_id = session.get("sid")
    if not _present():
        if isinstance(session_id, str):
            sessions.end(store().database, session_id)  # a copy of both cookies ends too
        session.clear()
        return None
    try:
        info = store().app.get_user(UUID(user_id))
    except ValueError:
        info = None
    if (
        info is None
        or not isinstance(session_id, str)
        or session.get("generation") != info.session_generation
        or not sessions.holds(store().database, session_id, user_id, *_idle_and_max_seconds())
    ):
        session.clear()
        return None
    return SignedInUser(info)


def _present() -> bool:
    """Whether the page's half of the session (PRESENCE_COOKIE) came with the request."""
    expected = session.get("presence")
    # Compared as bytes: a cookie is whatever the client sends, non-ASCII included.
    sent = request.cookies.get(PRESENCE_COOKIE, "").encode("utf-8", "surrogateescape")
    return expected is None or secrets.compare_digest(str(expected).encode(), sent)


def keep_presence_cookie(response: Response) -> Response:
    """Gives a session begun by this request its page half; takes away a half whose session
    has ended (signed out, expired, ended elsewhere)."""
    presence = g.pop("presence", None)
    if presence is not None:
        response.set_cookie(
            PRESENCE_COOKIE,
            presence,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=False,
            samesite="Lax",
        )
    elif (
        PRESENCE_COOKIE in request.cookies
        and "presence" not in session
        and _bearer(request) is None
    ):
        response.delete_cookie(PRESENCE_COOKIE)
    return response


def _bearer(req: Any) -> str | None:
    """The token of `Authorization: Bearer …` (the scheme is case-insensitive, RFC 7235)."""
    scheme, _space, token = req.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def sign_in_by_bearer() -> None:
    """A bearer request is signed in by its token alone, before flask-login would look at a
    cookie (its remember-me cookie, even a stale one, would otherwise win over the token)."""
    token = _bearer(request)
    if token is None:
        return
    info = store().app.user_for_token(token) if token else None
    login_manager._update_request_context_with_user(  # noqa: SLF001 - flask-login's own way
        SignedInUser(info, via_token=True) if info else None
    )


class TokenRequestSessions(SecureCookieSessionInterface):
    """A request with a bearer token is signed in by the token alone: it neither reads nor
    writes the session cookie. Otherwise a cookie kept from an earlier answer (a CSRF token,
    no sign-in) trips flask-login's strong session protection and the token is ignored; and
    a junk token beside a session cookie leaves the request signed out, never half-checked."""

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


# What a user with a one-time password may still reach: the page to choose their own, the
# way out, and the files those pages load.
_OPEN_TO_ONE_TIME = {"auth.choose_password", "auth.logout", "static"}


def hold_one_time_password() -> Any:
    """A user signed in with a one-time password (someone else chose it and saw it) reaches
    nothing but the page where they choose their own: pages lead there, the JSON API and their
    tokens answer 403. Runs before every view, public ones included, after the bearer
    sign-in; the views' own checks stay as they are."""
    if "_user_id" not in session and _bearer(request) is None:
        return None  # nobody signed in: nothing to hold (and no user to load)
    if request.endpoint in _OPEN_TO_ONE_TIME or not current_user.is_authenticated:
        return None
    if not current_user.info.one_time_password:
        return None
    if current_user.via_token or wants_json():
        abort(
            403,
            description=_(
                "Your password is a one-time password: sign in on the site and choose your "
                "own first."
            ),
        )
    return redirect(url_for("auth.choose_password", next=request.full_path))


def public_endpoint(view: F) -> F:
    """Marks a view as open to everyone; the authorisation matrix test reads the mark."""
    view.access = ("public",)  # type: ignore[attr-defined]
    return view


def roles_required(*roles: str) -> Callable[[F], F]:
    """401 without a session or token, 403 with the wrong role, or with a token outside the
    JSON API (tokens never open the back office's pages or exports); the mark lists the
    roles."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return unauthorized()
            if current_user.via_token and not request.path.startswith(API_PREFIX):
                abort(
                    403,
                    description=_(
                        "API tokens open the JSON API (/api/v1) only: sign in with your password."
                    ),
                )
            if current_user.role not in roles:
                abort(
                    403,
                    description=_("You are not allowed to see this page."),
                )
            return view(*args, **kwargs)

        wrapper.access = roles  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def signed_in_by_token() -> bool:
    """True only for a request a valid token signed in: a junk Authorization header is not
    a reason to skip anything."""
    return bool(current_user.is_authenticated and current_user.via_token)


def _user_email(_form: FlaskForm, field: Any) -> None:
    """The rule `ledger users add` applies: an address it refuses cannot sign in either."""
    try:
        user_email(field.data or "")
    except InvalidInputError:
        raise ValidationError(_("Not a valid e-mail address.")) from None


class LoginForm(FlaskForm):
    email = EmailField(lazy_gettext("E-mail"), validators=[DataRequired(), _user_email])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired()])


class OwnPasswordForm(FlaskForm):
    """The password a user chooses in place of a one-time one; its rules (length, not the
    one-time one) are the ledger's, shown beside the field."""

    password = PasswordField(
        lazy_gettext("New password"),
        validators=[DataRequired(message=lazy_gettext("This field is required."))],
    )
    confirm = PasswordField(
        lazy_gettext("New password again"),
        validators=[
            DataRequired(message=lazy_gettext("This field is required.")),
            EqualTo("password", message=lazy_gettext("The two passwords differ.")),
        ],
    )


def safe_next(target: str | None) -> str:
    """`next=` only ever leads to a path on this site. Browsers drop tabs and line breaks
    and read `\\` as `/`, so `/%09/evil.example` or `/\\evil.example` would leave it."""
    home = url_for("public.home")
    if not target or not target.startswith("/") or "\\" in target:
        return home
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in target):
        return home
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc:
        return home
    return target


@bp.route("/login", methods=["GET", "POST"])
@public_endpoint
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        account = (form.email.data or "").strip().lower()
        address = request.remote_addr or ""
        database = store().database
        wait = throttle.begin_attempt(database, account, address)
        if wait:
            flash(
                ngettext(
                    "Too many failed attempts: try again in %(num)d minute.",
                    "Too many failed attempts: try again in %(num)d minutes.",
                    wait // 60 + 1,
                ),
                "error",
            )
            return render_template("login.html", form=form), 429, {"Retry-After": str(wait)}
        info = store().app.authenticate(account, form.password.data or "")
        if info is not None:
            throttle.succeeded(database, account, address)
            _begin_session(info)
            if info.one_time_password:
                return redirect(
                    url_for("auth.choose_password", next=safe_next(request.args.get("next")))
                )
            return redirect(safe_next(request.args.get("next")))
        flash(_("Wrong e-mail or password."), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form), 422 if form.is_submitted() else 200


def _begin_session(info: UserInfo) -> None:
    """A fresh session for `info` (no fixation), in the user's current session generation."""
    session.clear()
    session["sid"] = sessions.start(store().database, str(info.id), *_idle_and_max_seconds())
    session["generation"] = info.session_generation
    session["presence"] = g.presence = secrets.token_urlsafe(16)
    login_user(SignedInUser(info))


@bp.route("/password", methods=["GET", "POST"])
@roles_required(*ROLES)
def choose_password() -> Any:
    """Where a user signed in with a one-time password chooses their own."""
    target = safe_next(request.args.get("next"))
    if not current_user.info.one_time_password:
        return redirect(target)
    form = OwnPasswordForm()
    if form.validate_on_submit():
        try:
            info = store().app.replace_one_time_password(
                current_user.info.id, form.password.data or ""
            )
        except InvalidInputError as error:
            # The ledger's words are phrases ("at least 10 characters"): a sentence here.
            said = [
                f"{m[:1].upper()}{m[1:]}."
                for ms in translate_fields(error.fields).values()
                for m in ms
            ]
            form.password.errors = [*form.password.errors, *said]
            return _password_page(form), 422
        except ConflictError:
            # Replaced meanwhile (another tab): that ended this session, sign in again.
            logout_user()
            session.clear()
            return redirect(url_for("auth.login", next=target))
        # The change ended every session of the one-time password, this one too.
        session_id = session.get("sid")
        if isinstance(session_id, str):
            sessions.end(store().database, session_id)
        _begin_session(info)
        flash(_("Your password is set: use it from now on."), "ok")
        return redirect(target)
    return _password_page(form), 422 if form.is_submitted() else 200


def _password_page(form: OwnPasswordForm) -> str:
    return render_template("password.html", form=form, min_password=MIN_PASSWORD)


@bp.route("/logout", methods=["POST"])
@public_endpoint
def logout() -> Any:
    """Ends the session on the server too: a copy of the cookie no longer signs anyone in."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        sessions.end(store().database, session_id)
    logout_user()
    session.clear()
    return redirect(url_for("public.home"))


def sign_out_texts() -> dict[str, str]:
    """What signout.js says when entries are still waiting on the phone ({n} filled in there):
    each text in its singular and plural form (`_one`, `_other`)."""
    texts: dict[str, str] = {}
    for form, n in (("one", 1), ("other", 2)):
        texts[f"held_{form}"] = ngettext(
            "{n} entry you made on this phone has not reached the server yet (no network or "
            "session). Signing out now deletes it from this phone: it would be lost. Stay "
            "signed in and it is sent as soon as it can be; the sign-out then completes by "
            "itself.",
            "{n} entries you made on this phone have not reached the server yet (no network or "
            "session). Signing out now deletes them from this phone: they would be lost. Stay "
            "signed in and they are sent as soon as they can be; the sign-out then completes "
            "by itself.",
            n,
        )
        texts[f"leave_{form}"] = ngettext(
            "Sign out anyway: {n} entry lost", "Sign out anyway: {n} entries lost", n
        )
    return texts


def _whole_number(app: Flask, name: str, default: int, minimum: int) -> int:
    """A setting from the app's config (tests) or the environment, refused when it is not
    a whole number of at least `minimum`."""
    value = app.config.get(name, os.environ.get(name) or default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RuntimeError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise RuntimeError(f"{name} must be at least {minimum}, not {number}")
    return number


def init_app(app: Flask) -> None:
    app.config["LEDGER_SESSION_IDLE_MINUTES"] = _whole_number(
        app, "LEDGER_SESSION_IDLE_MINUTES", 30, minimum=1
    )
    app.config.setdefault("LEDGER_HTTPS", os.environ.get("LEDGER_HTTPS") == "1")
    proxies = _whole_number(app, "LEDGER_TRUSTED_PROXIES", 0, minimum=0)
    if proxies:
        # The client's address (for the sign-in limits) and scheme as the proxies saw them;
        # X-Forwarded-For is read only as deep as there are proxies, so a client cannot
        # choose its own address.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies
        )
    app.session_interface = TokenRequestSessions()
    login_manager.session_protection = "strong"
    database = app.extensions["ledger_store"].database
    throttle.create_table(database)
    sessions.create_table(database)
    login_manager.init_app(app)
    app.before_request(sign_in_by_bearer)
    app.before_request(hold_one_time_password)
    app.after_request(keep_presence_cookie)
    csrf.init_app(app)
    app.jinja_env.globals["sign_out_texts"] = sign_out_texts
    app.register_blueprint(bp)
