"""The registry's rules in memory: merges and their undoing, erasure within the retention period,
the audit trail, a receipt mailed again, a donor's choice about the Agenzia delle Entrate file."""

import uuid
from datetime import date
from typing import Any

import pytest

from ledger.agenzia import (
    TransmissionChoice,
    choose_transmission,
    oppose_on_gift,
    opposition_recorded,
)
from ledger.application import LedgerApplication
from ledger.audit import AuditEntry
from ledger.donor import Donor
from ledger.errors import ConflictError, InvalidInputError
from ledger.mail import ReceiptMailRequested, request_receipt_mail


def events_of(app: LedgerApplication, kind: type) -> list[Any]:
    return [
        event
        for notification in app.recorder.select_notifications(start=1, limit=1000)
        if isinstance(event := app.mapper.to_domain_event(notification), kind)
    ]


def test_a_merge_is_undone_once_and_not_once_erased() -> None:
    donor, other = Donor(), uuid.uuid4()
    with pytest.raises(ConflictError, match="not merged"):
        donor.unmerge("staff")
    donor.merge_into(other, "staff")
    assert donor.unmerge("staff") == str(other)
    assert donor.merged_into is None
    donor.change_consent(True, False, "modulo", date(2017, 1, 1), "staff")  # itself again
    donor.erase([], "richiesta", False, "admin")
    with pytest.raises(ConflictError, match="erased"):
        donor.unmerge("staff")
    assert [type(e) for e in donor.collect_events()][1:] == [
        Donor.MergedInto,
        Donor.Unmerged,
        Donor.ConsentChanged,
        Donor.Erased,
    ]


def test_no_merge_into_an_erased_donor_and_no_unmerge_once_it_is_erased(
    memory_app: LedgerApplication,
) -> None:
    first, second, erased = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    memory_app.erase_donor(erased, [], False, None, "richiesta", "admin")
    with pytest.raises(ConflictError, match="erased donor"):
        memory_app.merge_donors(first, erased, "staff")
    memory_app.merge_donors(first, second, "staff")
    memory_app.erase_donor(second, [], False, None, "richiesta", "admin")
    with pytest.raises(ConflictError, match="erased since"):
        memory_app.unmerge_donors(first, "staff")


def test_an_erasure_within_the_retention_period_needs_force_and_is_audited(
    memory_app: LedgerApplication,
) -> None:
    donor, gifts = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    memory_app.vault.store({gift: b"k" * 32 for gift in gifts})
    with pytest.raises(ConflictError, match="until 2026-09-01"):
        memory_app.erase_donor(
            donor, gifts, True, date(2016, 9, 1), "richiesta", "admin", today=date(2026, 8, 31)
        )
    assert memory_app.vault.keys_for(gifts) != {}
    destroyed = memory_app.erase_donor(
        donor, gifts, True, date(2016, 9, 1), "richiesta", "admin", True, date(2026, 8, 31)
    )
    assert destroyed == 2 and memory_app.vault.keys_for(gifts) == {}
    [erased] = events_of(memory_app, Donor.Erased)
    assert (erased.forced, erased.donations) == (True, sorted(str(g) for g in gifts))
    [audit] = events_of(memory_app, AuditEntry.Recorded)
    assert (audit.action, audit.who, audit.rows) == ("erasure", "admin", 2)
    assert audit.details["forced"] is True and "2026-09-01" in audit.details["retention"]
    # Erased already: a second erasure only finishes what the vault may have missed.
    memory_app.vault.store({gifts[0]: b"k" * 32})
    assert memory_app.erase_donor(donor, gifts, False, None, "di nuovo", "admin") == 1
    assert len(events_of(memory_app, Donor.Erased)) == 1


def test_after_the_retention_period_an_erasure_needs_no_force(
    memory_app: LedgerApplication,
) -> None:
    donor = uuid.uuid4()
    memory_app.erase_donor(
        donor, [], True, date(2016, 9, 1), "richiesta", "admin", today=date(2026, 9, 1)
    )
    [erased] = events_of(memory_app, Donor.Erased)
    assert erased.forced is False


def test_an_audit_entry_records_who_did_what_on_how_many_rows(
    memory_app: LedgerApplication,
) -> None:
    memory_app.record_audit("export", "staff", {"campaign": "fare-legami"}, 120)
    [entry] = events_of(memory_app, AuditEntry.Recorded)
    assert (entry.action, entry.who, entry.details, entry.rows) == (
        "export",
        "staff",
        {"campaign": "fare-legami"},
        120,
    )


def test_a_receipt_mail_request_sent_twice_is_one_request(memory_app: LedgerApplication) -> None:
    gift, request = uuid.uuid4(), uuid.uuid4()
    assert request_receipt_mail(memory_app, "2016/000001", gift, "staff", request) == request
    assert request_receipt_mail(memory_app, "2016/000001", gift, "staff", request) == request
    other = request_receipt_mail(memory_app, "2016/000001", gift, "staff")
    assert other != request
    requests = events_of(memory_app, ReceiptMailRequested.Requested)
    assert [(r.originator_id, r.number, r.donation_id) for r in requests] == [
        (request, "2016/000001", str(gift)),
        (other, "2016/000001", str(gift)),
    ]


def test_an_opposition_says_how_it_was_asked_and_changes_only_what_it_says() -> None:
    choice = TransmissionChoice("donor-1", 2016)
    with pytest.raises(InvalidInputError) as how:
        choice.change(True, " ", "staff")
    assert how.value.fields == {"how": ["required"]}
    assert choice.change(True, " e-mail ", "staff") and choice.opposed
    assert not choice.change(True, "di nuovo", "staff")
    assert choice.change(False, "telefonata", "staff") and not choice.opposed
    changes = [e for e in choice.collect_events() if isinstance(e, TransmissionChoice.Changed)]
    assert [(c.opposed, c.how) for c in changes] == [(True, "e-mail"), (False, "telefonata")]


def test_a_donors_choice_is_kept_per_year_and_an_opposition_on_a_gift_is_found(
    memory_app: LedgerApplication,
) -> None:
    assert choose_transmission(memory_app, "donor-1", 2016, True, "e-mail", "staff")
    assert not choose_transmission(memory_app, "donor-1", 2016, True, "e-mail", "staff")
    assert choose_transmission(memory_app, "donor-1", 2017, False, "e-mail", "staff")
    opposed: TransmissionChoice = memory_app.repository.get(
        TransmissionChoice.create_id("donor-1", 2016)
    )
    assert (opposed.opposed, opposed.version) == (True, 2)
    gift = uuid.uuid4()
    assert not opposition_recorded(memory_app, gift, 2016)
    memory_app.save(oppose_on_gift(gift, 2016, "modulo", "import"))
    assert opposition_recorded(memory_app, gift, 2016)
    assert not opposition_recorded(memory_app, gift, 2017)
