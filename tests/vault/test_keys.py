"""The key vault: a subject keeps the first key stored for it, whoever stores one later."""

from uuid import uuid4

from projections.store import LedgerStore


def test_a_subject_keeps_its_first_key_and_new_subjects_get_theirs(store: LedgerStore) -> None:
    vault = store.app.vault
    first, second, third = uuid4(), uuid4(), uuid4()
    assert vault.store({first: b"k" * 32, second: b"s" * 32}) == {
        first: b"k" * 32,
        second: b"s" * 32,
    }
    # A later writer (a retried import, another process) offers other keys: the ones stored
    # first stand, and every writer is told which they are.
    again = vault.store({first: b"x" * 32, third: b"t" * 32, second: b"y" * 32})
    assert again == {first: b"k" * 32, second: b"s" * 32, third: b"t" * 32}
    assert vault.keys_for([first, second, third]) == again


def test_a_destroyed_key_is_not_given_back_and_a_new_one_takes_its_place(
    store: LedgerStore,
) -> None:
    vault = store.app.vault
    subject = uuid4()
    vault.store({subject: b"k" * 32})
    assert vault.destroy([subject]) == 1
    assert vault.keys_for([subject]) == {}
    assert vault.store({subject: b"n" * 32}) == {subject: b"n" * 32}
    assert vault.store({}) == {}
