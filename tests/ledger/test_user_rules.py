"""A user's rules in memory: address and role, password length, deactivation, sessions that end,
tokens with a term that can be revoked."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ledger.application import LedgerApplication
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.user import (
    MAX_TOKEN_DAYS,
    MIN_PASSWORD,
    TOKEN_DAYS,
    User,
    check_new_user,
    hash_password,
    token_reference,
    user_email,
)

PASSWORD = "una-password-lunga"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def user() -> User:
    return User("staff@example.org", "staff", hash_password(PASSWORD))


def test_a_password_has_at_least_ten_characters() -> None:
    with pytest.raises(InvalidInputError) as short:
        hash_password("x" * (MIN_PASSWORD - 1))
    assert short.value.fields == {"password": ["at least 10 characters"]}
    assert hash_password("x" * MIN_PASSWORD).startswith("$argon2id$")


def test_a_user_is_known_by_a_valid_address_lower_cased_and_has_one_of_three_roles() -> None:
    assert user_email("  Ufficio@Example.ORG ") == "ufficio@example.org"
    assert User.create_id("Ufficio@Example.org ") == User.create_id("ufficio@example.org")
    for role in ("admin", "staff", "volunteer"):
        assert check_new_user("A@Example.org", role) == "a@example.org"
    with pytest.raises(InvalidInputError) as both:
        check_new_user("not an address", "superuser")
    assert set(both.value.fields) == {"email", "role"}


def test_a_password_is_checked_against_its_hash_and_a_new_one_ends_the_sessions() -> None:
    staff = user()
    assert staff.check_password(PASSWORD) and not staff.check_password(PASSWORD.upper())
    staff.change_password(hash_password("un'altra-password"))
    assert not staff.check_password(PASSWORD) and staff.check_password("un'altra-password")
    assert staff.session_generation == 1


def test_a_deactivated_user_signs_in_with_nothing() -> None:
    staff = user()
    token = staff.issue_token(NOW)
    token_id, secret = token.split("_", 2)[2].split(".")
    assert staff.accepts_token(token_id, secret, NOW)
    staff.deactivate()
    assert (staff.active, staff.session_generation) == (False, 1)
    assert not staff.check_password(PASSWORD)
    assert not staff.accepts_token(token_id, secret, NOW)


def test_a_token_holds_from_its_issue_to_its_term_with_its_own_secret_only() -> None:
    staff = user()
    token = staff.issue_token(NOW, days=30)
    reference, secret = token.split(".")
    token_id = reference.split("_", 2)[2]
    assert reference == token_reference(staff.id, token_id)
    recorded = staff.tokens[token_id]
    assert secret not in recorded.token_hash and recorded.expires_at == NOW + timedelta(days=30)
    assert staff.accepts_token(token_id, secret, NOW + timedelta(days=30) - timedelta(seconds=1))
    assert not staff.accepts_token(token_id, secret, NOW + timedelta(days=30))
    assert recorded.state(NOW + timedelta(days=30)) == "expired"
    assert not staff.accepts_token(token_id, secret + "x", NOW)
    assert not staff.accepts_token("00000000", secret, NOW)


@pytest.mark.parametrize("days", [0, -1, MAX_TOKEN_DAYS + 1, 99_999_999_999])
def test_a_token_lasts_from_one_day_to_ten_years(days: int) -> None:
    staff = user()
    with pytest.raises(InvalidInputError) as refused:
        staff.issue_token(NOW, days)
    assert set(refused.value.fields) == {"days"}
    assert staff.tokens == {}
    staff.issue_token(NOW, MAX_TOKEN_DAYS)
    [token] = staff.tokens.values()
    assert token.expires_at == NOW + timedelta(days=MAX_TOKEN_DAYS)


def test_a_token_is_revoked_once_and_only_a_token_that_exists() -> None:
    staff = user()
    token_id, secret = staff.issue_token(NOW).split("_", 2)[2].split(".")
    assert staff.revoke_token(token_id) and not staff.revoke_token(token_id)
    assert staff.tokens[token_id].state(NOW) == "revoked"
    assert not staff.accepts_token(token_id, secret, NOW)
    with pytest.raises(NotFoundError):
        staff.revoke_token("ffffffff")


# Through the user commands, on the in-memory store


def test_a_user_is_added_once_per_address_and_signs_in_until_deactivated(
    memory_app: LedgerApplication,
) -> None:
    info = memory_app.add_user(" Capo@Example.org", "admin", PASSWORD)
    assert (info.email, info.role, info.session_generation) == ("capo@example.org", "admin", 0)
    with pytest.raises(ConflictError):
        memory_app.add_user("CAPO@example.org", "staff", "un'altra-password")
    with pytest.raises(InvalidInputError) as short:
        memory_app.add_user("altro@example.org", "staff", "corta")
    assert set(short.value.fields) == {"password"}
    assert memory_app.authenticate("capo@example.org", PASSWORD) == info
    assert memory_app.authenticate("nessuno@example.org", PASSWORD) is None
    with pytest.raises(InvalidInputError):
        memory_app.set_password("capo@example.org", "corta")
    memory_app.set_password("capo@example.org", "un'altra-password")
    assert memory_app.authenticate("capo@example.org", PASSWORD) is None
    renewed = memory_app.get_user(info.id)
    assert renewed is not None and renewed.session_generation == 1
    token = memory_app.issue_token("capo@example.org", now=NOW)
    memory_app.deactivate_user("capo@example.org")
    memory_app.deactivate_user("capo@example.org")  # already: nothing recorded
    assert memory_app.repository.get(info.id).version == 4
    assert memory_app.get_user(info.id) is None
    assert memory_app.authenticate("capo@example.org", "un'altra-password") is None
    assert memory_app.user_for_token(token, now=NOW) is None
    for command in (
        lambda: memory_app.set_password("nessuno@example.org", PASSWORD),
        lambda: memory_app.deactivate_user("nessuno@example.org"),
        lambda: memory_app.issue_token("nessuno@example.org"),
    ):
        with pytest.raises(NotFoundError):
            command()


def test_tokens_are_listed_without_secret_and_revoked_by_reference(
    memory_app: LedgerApplication,
) -> None:
    info = memory_app.add_user("staff@example.org", "staff", PASSWORD)
    token = memory_app.issue_token("staff@example.org", now=NOW)
    later = memory_app.issue_token("staff@example.org", days=1, now=NOW + timedelta(hours=1))
    assert memory_app.user_for_token(token, now=NOW) == info
    listed = memory_app.user_tokens("staff@example.org", now=NOW + timedelta(days=2))
    assert [(t.reference, t.state) for t in listed] == [
        (token.split(".")[0], "active"),
        (later.split(".")[0], "expired"),
    ]
    assert listed[0].expires_at == NOW + timedelta(days=TOKEN_DAYS)
    assert memory_app.revoke_token(token.split(".")[0])
    assert not memory_app.revoke_token(token)
    assert memory_app.user_for_token(token, now=NOW) is None
    campaign = memory_app.start_campaign("fare-legami", "Fare Legami", 0)
    for not_a_user in (uuid4(), campaign):
        assert memory_app.get_user(not_a_user) is None
        assert memory_app.user_for_token(f"fondo_{not_a_user.hex}_00000000.x") is None
    for unknown in ("garbage", f"fondo_{uuid4().hex}_00000000"):
        assert memory_app.user_for_token(unknown) is None
        with pytest.raises(NotFoundError):
            memory_app.revoke_token(unknown)
