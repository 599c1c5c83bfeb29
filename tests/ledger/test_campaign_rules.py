"""A campaign's rules in memory: its dates, its target, its end and its expenses."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import LedgerApplication
from ledger.campaign import Campaign, takes_gifts_on
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.fundraising import record_expense

STARTS, ENDS = date(2016, 7, 1), date(2017, 6, 30)


def campaign() -> Campaign:
    return Campaign("fare-legami", "Fare Legami", 100_000, STARTS, ENDS)


def test_a_campaign_takes_gifts_from_its_start_to_its_planned_end() -> None:
    running = campaign()
    for day in (STARTS, date(2016, 12, 25), ENDS):
        running.check_gift_day(day)
    with pytest.raises(InvalidInputError) as early:
        running.check_gift_day(STARTS - timedelta(days=1))
    assert early.value.fields == {"campaign": ["the campaign starts on 2016-07-01"]}
    with pytest.raises(InvalidInputError) as late:
        running.check_gift_day(ENDS + timedelta(days=1))
    assert late.value.fields == {"campaign": ["the campaign ended on 2017-06-30"]}


def test_an_ended_campaign_takes_no_gift_after_the_day_it_ended() -> None:
    ended = campaign()
    ended.end(date(2017, 1, 15))
    assert not ended.is_open and ended.ended_on == date(2017, 1, 15)
    ended.check_gift_day(date(2017, 1, 15))
    with pytest.raises(InvalidInputError) as refused:
        ended.check_gift_day(date(2017, 1, 16))
    assert refused.value.fields == {"campaign": ["the campaign ended on 2017-01-15"]}
    [*_, event] = ended.collect_events()
    assert isinstance(event, Campaign.Ended) and event.on == date(2017, 1, 15)


days = st.dates(date(2015, 1, 1), date(2018, 12, 31))


@given(days, st.none() | days, st.none() | days, st.none() | days)
def test_a_day_takes_gifts_exactly_when_it_is_within_every_bound(
    day: date, starts: date | None, ends: date | None, ended: date | None
) -> None:
    within = all(
        (
            starts is None or starts <= day,
            ends is None or day <= ends,
            ended is None or day <= ended,
        )
    )
    assert takes_gifts_on(day, starts, ends, ended) is within


def test_a_target_change_is_a_new_event_with_the_new_target() -> None:
    running = campaign()
    running.change_target(250_000)
    assert running.target_cents == 250_000
    [_started, changed] = running.collect_events()
    assert isinstance(changed, Campaign.TargetChanged) and changed.target_cents == 250_000


def test_an_expense_is_recorded_once_with_its_text_on_one_line() -> None:
    running = campaign()
    assert running.record_expense(12_000, date(2016, 9, 1), "  stampa\n volantini ", "staff")
    assert not running.record_expense(12_000, date(2016, 9, 1), "stampa volantini", "staff")
    assert running.record_expense(12_000, date(2016, 9, 2), "stampa volantini", "staff")
    expenses = [e for e in running.collect_events() if isinstance(e, Campaign.ExpenseRecorded)]
    assert [(e.amount_cents, e.on, e.what) for e in expenses] == [
        (12_000, date(2016, 9, 1), "stampa volantini"),
        (12_000, date(2016, 9, 2), "stampa volantini"),
    ]


def test_an_expense_needs_an_amount_a_day_and_what_was_paid_for() -> None:
    with pytest.raises(InvalidInputError) as refused:
        campaign().record_expense(0, date(2099, 1, 1), "  ", "staff")
    assert set(refused.value.fields) == {"amount", "on", "what"}
    assert refused.value.fields["what"] == ["say what was paid for"]


def test_starting_a_campaign_again_is_a_no_op_and_other_details_conflict(
    memory_app: LedgerApplication,
) -> None:
    first = memory_app.start_campaign("fare-legami", " Fare Legami ", 100, STARTS, ENDS)
    assert memory_app.start_campaign("fare-legami", "Fare Legami", 100, STARTS, ENDS) == first
    for other in (("Altro", 100, STARTS, ENDS), ("Fare Legami", 100, STARTS, None)):
        with pytest.raises(ConflictError):
            memory_app.start_campaign("fare-legami", *other)
    assert memory_app.recorder.max_notification_id() == 1


def test_target_and_end_change_a_known_campaign_only_when_they_change_something(
    memory_app: LedgerApplication,
) -> None:
    memory_app.start_campaign("fare-legami", "Fare Legami", 100, STARTS, ENDS)
    memory_app.change_target("fare-legami", 100)  # the same target: nothing recorded
    memory_app.change_target("fare-legami", 500)
    with pytest.raises(InvalidInputError) as negative:
        memory_app.change_target("fare-legami", -1)
    assert set(negative.value.fields) == {"target"}
    memory_app.end_campaign("fare-legami", date(2017, 1, 15))
    memory_app.end_campaign("fare-legami", date(2017, 3, 1))  # already ended: kept as it was
    info = memory_app.get_campaign("fare-legami")
    assert (info.target_cents, info.is_open) == (500, False)
    stored: Campaign = memory_app.repository.get(Campaign.create_id("fare-legami"))
    assert (stored.version, stored.ended_on) == (3, date(2017, 1, 15))
    for command in (
        lambda: memory_app.change_target("nessuna", 1),
        lambda: memory_app.end_campaign("nessuna", STARTS),
        lambda: memory_app.get_campaign("nessuna"),
    ):
        with pytest.raises(NotFoundError):
            command()


def test_an_expense_of_an_unknown_campaign_is_not_found_and_a_resend_records_nothing(
    memory_app: LedgerApplication,
) -> None:
    with pytest.raises(NotFoundError):
        record_expense(memory_app, "nessuna", 100, STARTS, "stampa", "staff")
    memory_app.start_campaign("fare-legami", "Fare Legami", 100, STARTS, ENDS)
    assert record_expense(memory_app, "fare-legami", 100, STARTS, "stampa", "staff")
    assert not record_expense(memory_app, "fare-legami", 100, STARTS, "stampa", "staff")
    assert memory_app.recorder.max_notification_id() == 2
