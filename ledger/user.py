"""User: someone who signs in (admin, staff or volunteer), with a password and API tokens."""

import contextlib
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from eventsourcing.domain import Aggregate, event

from ledger.bounds import check, count_problem
from ledger.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    invalid_field,
    raise_problems,
)
from ledger.keys import natural_id
from ledger.texts import N_

ROLES = ("admin", "staff", "volunteer")
_HASHER = PasswordHasher()
MIN_PASSWORD = 10
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(
            N_("a password needs at least %(count)s characters", count=MIN_PASSWORD),
            {"password": [N_("at least %(count)s characters", count=MIN_PASSWORD)]},
        )
    return _HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def spend_password_work(password: str) -> None:
    """The argon2 work of checking a password, for an account that does not exist: a
    sign-in then takes as long whether the account exists or not (no enumeration)."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _HASHER.verify(_dummy_hash(), password)


def user_email(text: str) -> str:
    """The address a user is known and signs in by, lower-cased: the one rule for adding a
    user and for the sign-in form, so that nobody is created who could never sign in."""
    address = (text or "").strip().lower()
    try:
        # Deliverability needs DNS: a user is added and signs in without looking it up.
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInputError(
            f"not an e-mail address: {text!r} ({error})", {"email": [str(error)]}
        ) from None
    return address


def check_new_user(email: str, role: str) -> str:
    """The address a new user signs in by, once the e-mail and the role meet the rules (every
    problem reported at once)."""
    problems: dict[str, list[str]] = {}
    try:
        address = user_email(email)
    except InvalidInputError as error:
        address, problems = "", dict(error.fields)
    if role not in ROLES:
        problems["role"] = [N_("one of %(choices)s", choices=", ".join(ROLES))]
    raise_problems(problems)
    return address


def token_digest(secret: str) -> str:
    """Tokens are long random strings, so one round of SHA-256 is enough to keep them hashed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_reference(user_id: UUID, token_id: str) -> str:
    """A token's public name: the part before its secret, enough to list and revoke it."""
    return f"fondo_{user_id.hex}_{token_id}"


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    revoked: bool = False

    def state(self, now: datetime) -> str:
        if self.revoked:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"


class User(Aggregate):
    """One per e-mail address (lower-cased)."""

    class Registered(Aggregate.Created):
        email: str
        role: str
        password_hash: str
        one_time: bool

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Recorded before one-time passwords were told apart: the password stays as usable
            # as it was.
            state["one_time"] = False

    class PasswordChanged(Aggregate.Event):
        password_hash: str
        one_time: bool

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["one_time"] = False

    class TokenIssued(Aggregate.Event):
        token_id: str
        token_hash: str
        issued_at: datetime
        expires_at: datetime

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Tokens issued before they expired: valid for the default term from their issue.
            state["issued_at"] = state["timestamp"]
            state["expires_at"] = state["timestamp"] + timedelta(days=TOKEN_DAYS)

    class TokenRevoked(Aggregate.Event):
        token_id: str

    class Deactivated(Aggregate.Event):
        pass

    @staticmethod
    def create_id(email: str) -> UUID:  # type: ignore[override]
        return natural_id("user", email.strip().lower())

    @event(Registered)
    def __init__(self, email: str, role: str, password_hash: str, one_time: bool = False) -> None:
        self.email = email
        self.role = role
        self.password_hash = password_hash
        # A password someone else chose and saw (printed by `ledger users add` or `users
        # password`): it opens nothing but the page where the user chooses their own.
        self.one_time_password = one_time
        self.tokens: dict[str, ApiToken] = {}
        self.active = True
        # Sessions remember the generation they began in: a new password or a deactivation
        # starts the next one, which ends every earlier session.
        self.session_generation = 0

    def check_password(self, password: str) -> bool:
        """The hash is checked even for a deactivated user, so that the time taken does not
        tell which accounts are deactivated."""
        return self._is_password(password) and self.active

    def _is_password(self, password: str) -> bool:
        try:
            return _HASHER.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @event(PasswordChanged)
    def change_password(self, password_hash: str, one_time: bool = False) -> None:
        self.password_hash = password_hash
        self.one_time_password = one_time
        self.session_generation += 1

    def replace_one_time_password(self, password: str) -> None:
        """The user's own password in place of the one-time one, which stops working, as does
        every session it opened. Only a one-time password is replaced without the current
        one: a session left open must not let anyone else take the account over."""
        if not self.one_time_password:
            raise ConflictError(N_("there is no one-time password to replace"))
        if self._is_password(password):
            raise invalid_field(
                "password", N_("the new password must differ from the one-time password")
            )
        self.change_password(hash_password(password), one_time=False)

    def issue_token(self, now: datetime, days: int = TOKEN_DAYS) -> str:
        """A new personal token `fondo_<user>_<id>.<secret>`, valid for `days`; only its hash
        is recorded, so it is shown once."""
        # A token is a password that lives in a program: a term past ten years is a typing
        # mistake (and past year 9999 no date can hold it).
        check("days", count_problem(days, 1, MAX_TOKEN_DAYS))
        token_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        self._token_issued(
            token_id=token_id,
            token_hash=token_digest(secret),
            issued_at=now,
            expires_at=now + timedelta(days=days),
        )
        return f"{token_reference(self.id, token_id)}.{secret}"

    @event(TokenIssued)
    def _token_issued(
        self, token_id: str, token_hash: str, issued_at: datetime, expires_at: datetime
    ) -> None:
        self.tokens[token_id] = ApiToken(token_id, token_hash, issued_at, expires_at)

    def revoke_token(self, token_id: str) -> bool:
        """False when it was revoked already; NotFoundError when it never existed."""
        token = self.tokens.get(token_id)
        if token is None:
            raise NotFoundError(f"no token {token_reference(self.id, token_id)}")
        if token.revoked:
            return False
        self._token_revoked(token_id=token_id)
        return True

    @event(TokenRevoked)
    def _token_revoked(self, token_id: str) -> None:
        token = self.tokens[token_id]
        self.tokens[token_id] = ApiToken(
            token.token_id, token.token_hash, token.issued_at, token.expires_at, revoked=True
        )

    def accepts_token(self, token_id: str, secret: str, now: datetime) -> bool:
        token = self.tokens.get(token_id)
        return (
            self.active
            and token is not None
            and token.state(now) == "active"
            and hmac.compare_digest(token.token_hash, token_digest(secret))
        )

    @event(Deactivated)
    def deactivate(self) -> None:
        self.active = False
        self.session_generation += 1
