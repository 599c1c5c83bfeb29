"""User: someone who signs in (admin, staff or volunteer), with a password and API tokens."""

import hashlib
import hmac
import secrets
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from eventsourcing.domain import Aggregate, event

from ledger.errors import InvalidInputError
from ledger.keys import natural_id

ROLES = ("admin", "staff", "volunteer")
_HASHER = PasswordHasher()
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"a password needs at least {MIN_PASSWORD} characters",
                                {"password": [f"at least {MIN_PASSWORD} characters"]})
    return _HASHER.hash(password)


def user_email(text: str) -> str:
    """The address a user is known and signs in by, lower-cased: the one rule for adding a
    user and for the sign-in form, so that nobody is created who could never sign in."""
    address = (text or "").strip().lower()
    try:
        # Deliverability needs DNS: a user is added and signs in without looking it up.
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInputError(f"not an e-mail address: {text!r} ({error})",
                                {"email": [str(error)]}) from None
    return address


def token_digest(secret: str) -> str:
    """Tokens are long random strings, so one round of SHA-256 is enough to keep them hashed."""
    return hashlib.sha256(secret.encode()).hexdigest()


class User(Aggregate):
    """One per e-mail address (lower-cased)."""

    class Registered(Aggregate.Created):
        email: str
        role: str
        password_hash: str

    class PasswordChanged(Aggregate.Event):
        password_hash: str

    class TokenIssued(Aggregate.Event):
        token_id: str
        token_hash: str

    class TokenRevoked(Aggregate.Event):
        token_id: str

    class Deactivated(Aggregate.Event):
        pass

    @staticmethod
    def create_id(email: str) -> UUID:  # type: ignore[override]
        return natural_id("user", email.strip().lower())

    @event(Registered)
    def __init__(self, email: str, role: str, password_hash: str) -> None:
        self.email = email
        self.role = role
        self.password_hash = password_hash
        self.tokens: dict[str, str] = {}
        self.active = True

    def check_password(self, password: str) -> bool:
        try:
            return self.active and _HASHER.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @event(PasswordChanged)
    def change_password(self, password_hash: str) -> None:
        self.password_hash = password_hash

    def issue_token(self) -> str:
        """A new personal token `fondo_<user>_<secret>`; only its hash is recorded."""
        token_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        self._token_issued(token_id=token_id, token_hash=token_digest(secret))
        return f"fondo_{self.id.hex}_{token_id}.{secret}"

    @event(TokenIssued)
    def _token_issued(self, token_id: str, token_hash: str) -> None:
        self.tokens[token_id] = token_hash

    @event(TokenRevoked)
    def revoke_token(self, token_id: str) -> None:
        self.tokens.pop(token_id, None)

    def accepts_token(self, token_id: str, secret: str) -> bool:
        expected = self.tokens.get(token_id)
        return self.active and expected is not None and hmac.compare_digest(
            expected, token_digest(secret))

    @event(Deactivated)
    def deactivate(self) -> None:
        self.active = False
