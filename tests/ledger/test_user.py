"""Back-office users are events: an argon2 hash is all that is kept of a password."""

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import extract_parameters
from eventsourcing.persistence import StoredEvent

from ledger.errors import ConflictError, InvalidInputError
from ledger.user import User, hash_password, token_digest
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


@pytest.mark.production_password_cost
def test_passwords_are_hashed_at_the_cost_argon2_recommends() -> None:
    # RFC 9106's second recommended option, argon2-cffi's default: 64 MiB, 3 passes, 4 lanes.
    parameters = extract_parameters(hash_password("una-password-lunga"))
    assert (parameters.type.name, parameters.memory_cost, parameters.time_cost) == (
        "ID",
        65536,
        3,
    )
    assert parameters.parallelism == 4


def test_a_user_needs_a_known_role_and_is_added_once(store: LedgerStore) -> None:
    with pytest.raises(InvalidInputError) as refused:
        store.app.add_user("capo@example.org", "superuser", "una-password-lunga")
    assert set(refused.value.fields) == {"role"}
    store.app.add_user("capo@example.org", "admin", "una-password-lunga")
    with pytest.raises(ConflictError):
        store.app.add_user("CAPO@example.org", "staff", "un'altra-password")


def test_a_token_issued_before_tokens_expired_lasts_ninety_days_from_its_issue(
    store: LedgerStore,
) -> None:
    info = store.app.add_user("staff@example.org", "staff", "una-password-lunga")
    user: User = store.app.repository.get(info.id)
    issued = datetime.now(UTC)
    user._token_issued(
        token_id="0a1b2c3d", token_hash=token_digest("segreto"), issued_at=issued, expires_at=issued
    )
    stored = store.app.mapper.to_stored_event(user.collect_events()[0])
    # The event as it was written before tokens had a term: no class version, no dates.
    state = store.app.mapper.transcoder.decode(stored.state)
    for key in ("class_version", "issued_at", "expires_at"):
        state.pop(key)
    store.app.recorder.insert_events(
        [
            StoredEvent(
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                store.app.mapper.transcoder.encode(state),
            )
        ]
    )
    token = f"fondo_{info.id.hex}_0a1b2c3d.segreto"
    written = state["timestamp"]
    assert store.app.user_for_token(token, now=written + timedelta(days=89)) == info
    assert store.app.user_for_token(token, now=written + timedelta(days=90)) is None
    [listed] = store.app.user_tokens("staff@example.org", now=written)
    assert (listed.issued_at, listed.expires_at) == (written, written + timedelta(days=90))


@pytest.mark.parametrize("days", [0, -1, 3651, 3_000_000, 99_999_999_999])
def test_a_token_lasts_from_one_day_to_ten_years(store: LedgerStore, days: int) -> None:
    store.app.add_user("staff@example.org", "staff", "una-password-lunga")
    events = store.app.recorder.max_notification_id()
    with pytest.raises(InvalidInputError) as refused:
        store.app.issue_token("staff@example.org", days)
    assert "days" in refused.value.fields
    assert store.app.recorder.max_notification_id() == events
    token = store.app.issue_token("staff@example.org", 3650)
    assert store.app.user_for_token(token) is not None


def test_users_recorded_before_one_time_passwords_keep_their_own_password(
    store: LedgerStore,
) -> None:
    """A store written before passwords could be one-time: its Registered and PasswordChanged
    events carry no class version and no `one_time`; they load as the user's own password."""
    user = User("storico@example.org", "staff", hash_password("la-prima-password"))
    user.change_password(hash_password("la-seconda-password"))
    old = []
    for domain_event in user.collect_events():
        stored = store.app.mapper.to_stored_event(domain_event)
        state = store.app.mapper.transcoder.decode(stored.state)
        assert state.pop("class_version") == 2 and state.pop("one_time") is False
        old.append(
            StoredEvent(
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                store.app.mapper.transcoder.encode(state),
            )
        )
    store.app.recorder.insert_events(old)
    loaded: User = store.app.repository.get(user.id)
    assert loaded.one_time_password is False and loaded.session_generation == 1
    info = store.app.authenticate("storico@example.org", "la-seconda-password")
    assert info is not None and info.one_time_password is False
    assert store.app.authenticate("storico@example.org", "la-prima-password") is None
    with pytest.raises(ConflictError):
        store.app.replace_one_time_password(user.id, "una-terza-password")


def test_a_one_time_password_is_replaced_once_by_a_different_one(store: LedgerStore) -> None:
    info = store.app.add_user("nuova@example.org", "volunteer", "provvisoria-1234", one_time=True)
    assert info.one_time_password is True
    with pytest.raises(InvalidInputError) as same:
        store.app.replace_one_time_password(info.id, "provvisoria-1234")
    assert set(same.value.fields) == {"password"}
    with pytest.raises(InvalidInputError) as short:
        store.app.replace_one_time_password(info.id, "corta")
    assert set(short.value.fields) == {"password"}
    chosen = store.app.replace_one_time_password(info.id, "la-mia-password")
    assert (chosen.one_time_password, chosen.session_generation) == (False, 1)
    assert store.app.authenticate("nuova@example.org", "provvisoria-1234") is None
    assert store.app.authenticate("nuova@example.org", "la-mia-password") == chosen
    # A session left open cannot set another password without knowing the current one.
    with pytest.raises(ConflictError):
        store.app.replace_one_time_password(info.id, "quella-di-un-altro")
    store.app.set_password("nuova@example.org", "ancora-provvisoria", one_time=True)
    again = store.app.authenticate("nuova@example.org", "ancora-provvisoria")
    assert again is not None and again.one_time_password is True
