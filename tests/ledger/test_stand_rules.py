"""A stand's rules in memory: taps and their undos, named gifts, the two counts, the close, the
deposit; the running figures against a model of the day."""

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import LedgerApplication
from ledger.cash_count import (
    AlreadyCountedError,
    CashBelowNamedError,
    CountsDisagreeError,
    CountsMissingError,
    StandClosedError,
)
from ledger.deposit import BankDeposit
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.gift import NamedGift
from ledger.identity import DonorDetails
from ledger.stand import CLOSED, OPEN, StandCollection

DAY = date(2016, 9, 10)
SLUG = "fare-legami"


def stand() -> StandCollection:
    return StandCollection(SLUG, "Piazza Duomo", "Crema", "Crema", DAY, ["Anna", "Bruno"])


def counted(stand_: StandCollection, cents: dict[int, int]) -> None:
    stand_.count_cash("Anna", cents)
    stand_.count_cash("Bruno", cents)


def test_a_resent_tap_is_a_no_op_and_with_another_amount_a_conflict() -> None:
    day = stand()
    assert day.tally("t1") and not day.tally("t1")
    assert day.tally("t2", 500) and not day.tally("t2", 500)
    for resent in (("t1", 500), ("t2", 700), ("t2", None)):
        with pytest.raises(ConflictError, match="another amount"):
            day.tally(*resent)
    assert (day.tallied, day.tallied_cents) == (2, 500)


def test_an_undo_takes_back_one_tap_once_and_only_a_tap_that_was_sent() -> None:
    day = stand()
    day.tally("t1", 300)
    day.tally("t2")
    assert day.undo_tally("t1") and not day.undo_tally("t1")
    with pytest.raises(NotFoundError):
        day.undo_tally("never-sent")
    assert (day.tallied, day.tallied_cents) == (1, 0)
    # An undone tap resent is still the tap it was: a no-op, not a new giver.
    assert not day.tally("t1", 300)
    assert day.tallied == 1


def test_a_named_gift_resent_with_the_same_figures_is_a_no_op_and_with_others_a_conflict() -> None:
    day = stand()
    assert day.log_named_gift("n1", 2000, True, "sealed-1")
    assert not day.log_named_gift("n1", 2000, True, "sealed-again")  # sealing differs each time
    for figures in ((2500, True), (2000, False)):
        with pytest.raises(ConflictError, match="other figures"):
            day.log_named_gift("n1", *figures, "sealed-2")
    assert (len(day.named), day.named_cents) == (1, 2000)


def test_one_account_counts_once_unless_it_says_it_recounts() -> None:
    day = stand()
    with pytest.raises(InvalidInputError) as nobody:
        day.count_cash("  ", {100: 1})
    assert nobody.value.fields == {"counter": ["who counted?"]}
    assert day.count_cash(" Anna ", {1000: 3}) == 3000
    with pytest.raises(AlreadyCountedError) as again:
        day.count_cash("ANNA", {1000: 2})
    assert again.value.counter == "ANNA"
    assert day.count_cash("anna", {1000: 2}, recount=True) == 2000
    assert day.replaced_counts() == {0}
    assert [(c, total) for c, _pieces, total in day.counts] == [("Anna", 3000), ("anna", 2000)]


def test_a_resent_count_returns_its_total_and_with_other_figures_conflicts() -> None:
    day = stand()
    assert day.count_cash("Anna", {1000: 2}, "c1") == 2000
    assert day.count_cash("Anna", {1000: 1, 500: 2}, "c1") == 2000  # same counter, same total
    for counter, pieces in (("Anna", {1000: 3}), ("Bruno", {1000: 2})):
        with pytest.raises(ConflictError, match="other figures"):
            day.count_cash(counter, pieces, "c1")
    assert len(day.counts) == 1


def test_a_count_names_only_known_denominations_and_keeps_the_pieces_counted() -> None:
    day = stand()
    with pytest.raises(InvalidInputError) as unknown:
        day.count_cash("Anna", {300: 1, 1000: 1})
    assert unknown.value.fields == {"denominations": ["unknown denominations: 300"]}
    assert day.count_cash("Anna", {1000: 2, 5: 0, 1: 3}) == 2003
    [*_, event] = day.collect_events()
    assert isinstance(event, StandCollection.CashCounted)
    assert (event.denominations, event.total_cents) == ({"1": 3, "1000": 2}, 2003)


def test_a_stand_closes_only_on_two_agreeing_counts_covering_the_named_gifts() -> None:
    day = stand()
    day.log_named_gift("n1", 2000, True, "sealed")
    with pytest.raises(CountsMissingError):
        day.close()
    day.count_cash("Anna", {1000: 3})
    with pytest.raises(CountsMissingError):
        day.close()
    day.count_cash("Bruno", {1000: 2, 500: 1})
    with pytest.raises(CountsDisagreeError) as differ:
        day.close()
    assert (differ.value.first, differ.value.second) == (3000, 2500)
    day.count_cash("Anna", {1000: 1}, recount=True)
    day.count_cash("Bruno", {1000: 1}, recount=True)
    with pytest.raises(CashBelowNamedError) as short:
        day.close()
    assert (short.value.counted, short.value.named) == (1000, 2000)
    assert day.status == OPEN
    day.count_cash("Bruno", {1000: 3}, recount=True)
    day.count_cash("Anna", {2000: 1, 500: 2}, recount=True)
    assert day.close() == (1000, 0)
    assert day.closing == {
        "counted_cents": 3000,
        "named_cents": 2000,
        "anonymous_cents": 1000,
        "tallied": 0,
        "named": 1,
    }


def test_a_closed_stand_takes_nothing_more_but_resends_stay_no_ops() -> None:
    day = stand()
    day.tally("t1")
    day.count_cash("Anna", {500: 1}, "c1")
    day.count_cash("Bruno", {500: 1})
    with pytest.raises(ConflictError, match="close the stand"):
        day.require_closed_for_deposit()
    day.close()
    assert day.status == CLOSED
    day.require_closed_for_deposit()
    for command in (
        lambda: day.tally("t2"),
        lambda: day.undo_tally("t1"),
        lambda: day.log_named_gift("n1", 100, True, "s"),
        lambda: day.count_cash("Carla", {500: 1}),
        day.close,
    ):
        with pytest.raises(StandClosedError):
            command()
    assert not day.tally("t1")
    assert day.count_cash("Anna", {500: 1}, "c1") == 500


# The latest count of each account, in the order the accounts last counted: what two must agree on.
counts = st.lists(
    st.tuples(st.sampled_from(["Anna", "anna", "Bruno", "Carla"]), st.integers(0, 3)), max_size=8
)


@given(counts)
def test_the_agreed_total_is_the_latest_counts_of_the_last_two_accounts(
    steps: list[tuple[str, int]],
) -> None:
    day = stand()
    latest: dict[str, int] = {}
    for counter, notes in steps:
        day.count_cash(counter, {1000: notes}, recount=True)
        latest.pop(counter.lower(), None)
        latest[counter.lower()] = notes * 1000
    if len(latest) < 2:
        with pytest.raises(CountsMissingError):
            day.close()
        return
    first, second = list(latest.values())[-2:]
    if first != second:
        with pytest.raises(CountsDisagreeError):
            day.close()
    else:
        assert day.close() == (first, 0)
    assert len(day.replaced_counts()) == len(steps) - len(latest)


# A stand's day as a story: taps with or without an amount (some resent), undos of earlier taps
# (some resent), named gifts, then the agreed count relative to the named cash.
STORY = st.tuples(
    st.lists(
        st.one_of(
            st.tuples(st.just("tap"), st.booleans(), st.none() | st.integers(1, 5000)),
            st.tuples(st.just("undo"), st.integers(0, 40), st.none()),
            st.tuples(st.just("named"), st.integers(1, 20_000), st.none()),
        ),
        max_size=40,
    ),
    st.integers(-3000, 60_000),
)


@given(STORY)
def test_running_figures_and_the_close_follow_a_model_of_the_day(
    story: tuple[list[tuple[str, object, int | None]], int],
) -> None:
    steps, beyond_named = story
    day = stand()
    taps: dict[str, int | None] = {}
    undone: set[str] = set()
    named: list[int] = []
    for kind, value, amount in steps:
        if kind == "tap":
            if value and taps:
                entry = list(taps)[-1]
                assert day.tally(entry, taps[entry]) is False
            else:
                entry = f"t{len(taps)}"
                assert day.tally(entry, amount) is True
                taps[entry] = amount
        elif kind == "undo" and taps:
            entry = list(taps)[int(str(value)) % len(taps)]
            assert day.undo_tally(entry) is (entry not in undone)
            undone.add(entry)
        elif kind == "named":
            assert day.log_named_gift(f"n{len(named)}", int(str(value)), True, "s")
            named.append(int(str(value)))
        live = [a for e, a in taps.items() if e not in undone]
        assert (day.tallied, day.tallied_cents) == (len(live), sum(a or 0 for a in live))
        assert (len(day.named), day.named_cents) == (len(named), sum(named))
    cash = max(sum(named) + beyond_named, 0)
    counted(day, {1: cash})
    if cash < sum(named):
        with pytest.raises(CashBelowNamedError):
            day.close()
        assert day.status == OPEN
        return
    assert day.close() == (cash - sum(named), len(taps) - len(undone))
    assert day.closing == {
        "counted_cents": cash,
        "named_cents": sum(named),
        "anonymous_cents": cash - sum(named),
        "tallied": len(taps) - len(undone),
        "named": len(named),
    }


# Through the stand commands, on the in-memory store


def open_day(app: LedgerApplication) -> uuid.UUID:
    app.start_campaign(SLUG, "Fare Legami", 0, date(2016, 7, 1), date(2017, 6, 30))
    return app.open_stand(SLUG, " Piazza Duomo ", "Crema", "Crema", DAY, [" Anna ", "", "Bruno"])


def test_a_stand_opens_once_within_its_campaign(memory_app: LedgerApplication) -> None:
    first = open_day(memory_app)
    again = memory_app.open_stand(SLUG, "piazza duomo", "CREMA", "Crema", DAY, ["Carla"])
    assert again == first
    opened = memory_app.get_stand(first)
    assert (opened.place, opened.volunteers) == ("Piazza Duomo", ["Anna", "Bruno"])
    with pytest.raises(InvalidInputError) as outside:
        memory_app.open_stand(SLUG, "Piazza", "Crema", "Crema", date(2016, 6, 30), ["Anna"])
    assert set(outside.value.fields) == {"campaign"}
    with pytest.raises(NotFoundError):
        memory_app.open_stand("nessuna", "Piazza", "Crema", "Crema", DAY, ["Anna"])
    with pytest.raises(NotFoundError):
        memory_app.get_stand(uuid.uuid4())
    with pytest.raises(NotFoundError):  # an aggregate that is not a stand
        memory_app.get_stand(memory_app.get_campaign(SLUG).id)


def test_closing_records_the_named_gifts_and_one_tally_of_the_rest(
    memory_app: LedgerApplication,
) -> None:
    stand_id = open_day(memory_app)
    for _ in range(5):
        memory_app.tally_gift(stand_id, str(uuid.uuid4()))
    giver = NamedGift(
        "n1", DonorDetails.parse(first_name="Carla", email="carla@example.org"), 2000, True, False
    )
    memory_app.log_named_gift(stand_id, giver)
    with pytest.raises(InvalidInputError) as no_consent:
        memory_app.log_named_gift(
            stand_id, NamedGift("n2", DonorDetails.parse(email="x@example.org"), 500, False, False)
        )
    assert "privacy_consent" in no_consent.value.fields
    with pytest.raises(InvalidInputError):  # a name alone: no way to send a receipt or news
        memory_app.log_named_gift(
            stand_id, NamedGift("n3", DonorDetails.parse(first_name="Solo"), 500, True, False)
        )
    for counter in ("Anna", "Bruno"):
        memory_app.count_cash(stand_id, counter, {5000: 1, 200: 3})
    closing = memory_app.close_stand(stand_id)["closing"]
    assert closing == {
        "counted_cents": 5600,
        "named_cents": 2000,
        "anonymous_cents": 3600,
        "tallied": 5,
        "named": 1,
    }
    stand_ = memory_app.get_stand(stand_id)
    tally = memory_app.find_donation(stand_.tally_key)
    named = memory_app.find_donation(stand_.gift_key("n1"))
    assert tally is not None and named is not None
    assert (tally.amount_cents, tally.donors, tally.identified) == (3600, 5, False)
    assert (named.amount_cents, named.donors, named.method, named.stand) == (
        2000,
        1,
        "cash",
        "Piazza Duomo",
    )
    details = memory_app.details_of(named)
    assert details is not None and details.email == "carla@example.org"
    with pytest.raises(StandClosedError):
        memory_app.close_stand(stand_id)


def test_an_empty_stand_closes_with_no_gift(memory_app: LedgerApplication) -> None:
    stand_id = open_day(memory_app)
    for counter in ("Anna", "Bruno"):
        memory_app.count_cash(stand_id, counter, {})
    assert memory_app.close_stand(stand_id)["closing"]["counted_cents"] == 0
    assert memory_app.find_donation(memory_app.get_stand(stand_id).tally_key) is None


def test_a_deposit_of_closed_stands_is_recorded_once_per_bank_reference(
    memory_app: LedgerApplication,
) -> None:
    first = open_day(memory_app)
    second = memory_app.open_stand(SLUG, "Piazza Garibaldi", "Crema", "Crema", DAY, ["Anna"])
    for stand_id in (first, second):
        for counter in ("Anna", "Bruno"):
            memory_app.count_cash(stand_id, counter, {1000: 4})
    memory_app.close_stand(first)
    with pytest.raises(ConflictError, match="Piazza Garibaldi"):
        memory_app.record_deposit("CRO-77", 8000, DAY, [first, second])
    memory_app.close_stand(second)
    deposit = memory_app.record_deposit(" CRO-77 ", 8000, DAY, [first, second])
    assert memory_app.record_deposit("cro-77", 8000, DAY, [second, first]) == deposit
    for amount, on, stands in (
        (7900, DAY, [first, second]),
        (8000, DAY, [first]),
        (8000, DAY + timedelta(days=1), [first, second]),
    ):
        with pytest.raises(ConflictError, match="other figures"):
            memory_app.record_deposit("CRO-77", amount, on, stands)
    recorded: BankDeposit = memory_app.repository.get(deposit)
    assert (recorded.reference, recorded.amount_cents, recorded.version) == ("CRO-77", 8000, 1)
    assert recorded.stands == sorted([str(first), str(second)])
    with pytest.raises(NotFoundError):
        memory_app.record_deposit("CRO-78", 100, DAY, [uuid.uuid4()])
