"""Back-office users are events: an argon2 hash is all that is kept of a password."""

import pytest

from ledger.errors import ConflictError, InvalidInputError
from ledger.user import User
from projections.store import LedgerStore


def test_only_an_argon2_hash_of_the_password_reaches_the_event_store(store: LedgerStore) -> None:
    info = store.app.add_user("Ufficio@Example.org", "staff", "una-password-lunga")
    assert (info.email, info.role) == ("ufficio@example.org", "staff")
    user: User = store.app.repository.get(User.create_id("ufficio@example.org"))
    assert user.password_hash.startswith("$argon2id$")
    stored = store.app.recorder.select_events(info.id)
    assert stored and all(b"una-password-lunga" not in event.state for event in stored)
    assert store.app.authenticate("ufficio@example.org", "una-password-lunga") == info
    assert store.app.authenticate("ufficio@example.org", "una-password-lungA") is None
    assert store.app.authenticate("nessuno@example.org", "una-password-lunga") is None


def test_a_user_needs_a_known_role_and_is_added_once(store: LedgerStore) -> None:
    with pytest.raises(InvalidInputError) as refused:
        store.app.add_user("capo@example.org", "superuser", "una-password-lunga")
    assert set(refused.value.fields) == {"role"}
    store.app.add_user("capo@example.org", "admin", "una-password-lunga")
    with pytest.raises(ConflictError):
        store.app.add_user("CAPO@example.org", "staff", "un'altra-password")
