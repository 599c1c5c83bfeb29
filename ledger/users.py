"""User and access commands: accounts, passwords, sign-in, personal API tokens."""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.errors import ConflictError, NotFoundError
from ledger.service import LedgerService
from ledger.user import (
    TOKEN_DAYS,
    User,
    check_new_user,
    hash_password,
    spend_password_work,
    token_reference,
)


@dataclass(frozen=True)
class UserInfo:
    id: UUID
    email: str
    role: str
    session_generation: int = 0
    # Signed in with a password someone else chose and saw: until the user chooses their own,
    # it opens nothing else.
    one_time_password: bool = False


def _user_info(user: User) -> UserInfo:
    return UserInfo(user.id, user.email, user.role, user.session_generation, user.one_time_password)


@dataclass(frozen=True)
class TokenInfo:
    """A token as it is listed: never its secret, which only its holder has."""

    reference: str
    issued_at: datetime
    expires_at: datetime
    state: str


class Users(LedgerService):
    """The people who use the back office, the stands and the API, and their tokens."""

    def add_user(self, email: str, role: str, password: str, one_time: bool = False) -> UserInfo:
        """A new user; `one_time` when the password was chosen for them (and seen by whoever
        chose it): they must choose their own before anything else."""
        address = check_new_user(email, role)
        user = User(address, role, hash_password(password), one_time)
        try:
            self.save(user)
        except IntegrityError:
            raise ConflictError(f"a user {address} already exists") from None
        return _user_info(user)

    def _user(self, email: str) -> User:
        try:
            user: User = self.repository.get(User.create_id(email))
        except AggregateNotFoundError:
            raise NotFoundError(f"no user {email.strip().lower()}") from None
        return user

    def get_user(self, user_id: UUID) -> UserInfo | None:
        try:
            user: Aggregate = self.repository.get(user_id)
        except AggregateNotFoundError:
            return None
        # Another aggregate's id (a campaign's, a gift's) names no user.
        return _user_info(user) if isinstance(user, User) and user.active else None

    def authenticate(self, email: str, password: str) -> UserInfo | None:
        try:
            user = self._user(email)
        except NotFoundError:
            spend_password_work(password)
            return None
        return _user_info(user) if user.check_password(password) else None

    def set_password(self, email: str, password: str, one_time: bool = False) -> None:
        """A new password (`one_time`: see add_user); every session of the user ends with the
        old one."""
        user = self._user(email)
        user.change_password(hash_password(password), one_time)
        self.save(user)

    def replace_one_time_password(self, user_id: UUID, password: str) -> UserInfo:
        """The signed-in user's own password in place of their one-time one; every session of
        the one-time password ends (the caller starts a new one with the info returned)."""
        try:
            user: Aggregate = self.repository.get(user_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"no user {user_id}") from None
        if not isinstance(user, User) or not user.active:
            raise NotFoundError(f"no user {user_id}")
        user.replace_one_time_password(password)
        self.save(user)
        return _user_info(user)

    def deactivate_user(self, email: str) -> None:
        """The user can no longer sign in, nor use any token or session; the history stays."""
        user = self._user(email)
        if user.active:
            user.deactivate()
            self.save(user)

    def issue_token(self, email: str, days: int = TOKEN_DAYS, now: datetime | None = None) -> str:
        """A new personal API token, valid for `days`; it is shown only now."""
        user = self._user(email)
        token = user.issue_token(now or datetime.now(UTC), days)
        self.save(user)
        return token

    def user_tokens(self, email: str, now: datetime | None = None) -> list[TokenInfo]:
        user = self._user(email)
        moment = now or datetime.now(UTC)
        return [
            TokenInfo(
                token_reference(user.id, token.token_id),
                token.issued_at,
                token.expires_at,
                token.state(moment),
            )
            for token in sorted(user.tokens.values(), key=lambda t: t.issued_at)
        ]

    def _token_parts(self, token: str) -> tuple[User, str, str] | None:
        """A `fondo_<user>_<id>.<secret>` token (or its reference, without `.<secret>`) split
        into its user, token id and secret."""
        try:
            _prefix, user_hex, rest = token.strip().split("_", 2)
            token_id, _dot, secret = rest.partition(".")
            user: Aggregate = self.repository.get(UUID(hex=user_hex))
        except (ValueError, AggregateNotFoundError):
            return None
        return (user, token_id, secret) if isinstance(user, User) else None

    def user_for_token(self, token: str, now: datetime | None = None) -> UserInfo | None:
        """The user a token belongs to, while it is valid (not expired nor revoked, user
        active)."""
        parts = self._token_parts(token)
        if parts is None or not parts[0].accepts_token(
            parts[1], parts[2], now or datetime.now(UTC)
        ):
            return None
        return _user_info(parts[0])

    def revoke_token(self, token_or_reference: str) -> bool:
        """Revoke a token named by its reference (`ledger users tokens`) or given whole;
        False when it was revoked already."""
        parts = self._token_parts(token_or_reference)
        if parts is None:
            raise NotFoundError(
                "no such token: give the token or its id from `ledger users tokens EMAIL`"
            )
        user, token_id, _secret = parts
        if not user.revoke_token(token_id):
            return False
        self.save(user)
        return True
