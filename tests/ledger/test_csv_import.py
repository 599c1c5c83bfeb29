"""Importing the foundation's spreadsheets: exact year-1 figures, all or nothing, idempotent."""

from datetime import date
from pathlib import Path

import pytest

from ledger.csv_import import FileError, import_donations
from projections.reports import progress
from projections.store import LedgerStore
from tests.helpers import EXPECTED, HEADER, YEAR1, figures, row, start_campaigns, write_csv


def test_year1_gives_exactly_the_expected_figures(store: LedgerStore) -> None:
    start_campaigns(store)
    report = import_donations(store.app, YEAR1 / "donations.csv")
    assert report.ok and report.rows == EXPECTED["global"]["rows"] == report.new
    got = figures(store, "fare-legami-anno-1")
    want = EXPECTED["campaigns"]["fare-legami-anno-1"]
    for key in ("raised_cents", "gifts", "donors", "contacts", "by_channel", "by_district"):
        assert got[key] == want[key], key


def test_importing_the_same_file_twice_changes_nothing(store: LedgerStore) -> None:
    start_campaigns(store)
    import_donations(store.app, YEAR1 / "donations.csv")
    head = store.app.recorder.max_notification_id()
    again = import_donations(store.app, YEAR1 / "donations.csv")
    assert (again.new, again.already_recorded, again.written) == (0, 520, False)
    assert store.app.recorder.max_notification_id() == head
    assert figures(store, "fare-legami-anno-1")["raised_cents"] == 4270800


def test_dry_run_reports_and_writes_nothing(store: LedgerStore) -> None:
    start_campaigns(store)
    head = store.app.recorder.max_notification_id()
    report = import_donations(store.app, YEAR1 / "donations.csv", dry_run=True)
    assert (report.new, report.raised_cents, report.written) == (520, 4270800, False)
    assert store.app.recorder.max_notification_id() == head


def test_every_bad_line_is_listed_and_nothing_is_written(
    store: LedgerStore, tmp_path: Path
) -> None:
    start_campaigns(store)
    path = write_csv(
        tmp_path,
        row(reference="ok-1"),
        row(date="31/02/2016", reference="bad-date"),
        row(amount="0", reference="zero"),
        row(amount="-5,00", reference="negative"),
        row(channel="piazza", reference="channel"),
        row(method="bitcoin", reference="method"),
        row(campaign="unknown-campaign", reference="campaign"),
        row(donors="3", email="a@example.org", reference="donors"),
        row(tax_code="RSSMRA80A01D150X", reference="tax"),
        row(tax_code="00743110158", reference="iva"),
        row(privacy_consent="forse", reference="consent"),
        row(reference="ok-1"),
        row(reference="ok-2"),
    )
    head = store.app.recorder.max_notification_id()
    report = import_donations(store.app, path)
    assert [e.line for e in report.errors] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    messages = {e.line: e.message for e in report.errors}
    assert "date" in messages[3] and "more than zero" in messages[4]
    assert "channel" in messages[6] and "method" in messages[7]
    assert "unknown-campaign" in messages[8] and "donors" in messages[9]
    assert "codice fiscale" in messages[10] and "partita IVA" in messages[11]
    assert "privacy_consent" in messages[12] and "repeats line 2" in messages[13]
    assert not report.written
    assert store.app.recorder.max_notification_id() == head


def test_a_header_without_required_columns_is_refused(store: LedgerStore, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("data;importo\n01/01/2016;10\n", encoding="utf-8")
    with pytest.raises(FileError, match="line 1"):
        import_donations(store.app, path)


def test_comma_delimited_lf_file_without_bom_and_iso_dates(
    store: LedgerStore, tmp_path: Path
) -> None:
    start_campaigns(store)
    path = tmp_path / "intl.csv"
    path.write_text(
        HEADER.replace(";", ",")
        + "\n"
        + "2016-09-01,fare-legami-anni-2-3,online,card,1234.50,,,,,x@example.org"
        ",,,,,,,yes,no,,Crema,\n",
        encoding="utf-8",
    )
    report = import_donations(store.app, path)
    assert report.ok and report.new == 1
    assert figures(store)["raised_cents"] == 123450


def test_rows_without_reference_are_keyed_by_content_and_occurrence(
    store: LedgerStore, tmp_path: Path
) -> None:
    start_campaigns(store)
    path = write_csv(
        tmp_path,
        row(channel="stand", method="cash", donors="4"),
        row(channel="stand", method="cash", donors="4"),
    )
    assert import_donations(store.app, path).new == 2
    assert import_donations(store.app, path).already_recorded == 2
    assert figures(store)["donors"] == 8


def test_a_changed_row_under_a_known_reference_is_a_conflict(
    store: LedgerStore, tmp_path: Path
) -> None:
    start_campaigns(store)
    import_donations(store.app, write_csv(tmp_path, row(reference="R1")))
    report = import_donations(
        store.app, write_csv(tmp_path, row(reference="R1", amount="99"), name="changed.csv")
    )
    assert [e.line for e in report.errors] == [2]
    assert "already recorded with other figures" in report.errors[0].message


def test_one_person_written_differently_is_one_donor(store: LedgerStore, tmp_path: Path) -> None:
    start_campaigns(store)
    path = write_csv(
        tmp_path,
        row(email="Mario.Rossi@Example.org", reference="a"),
        row(email="mario.rossi@example.org", reference="b"),
        row(phone="+39 333 123 4567", reference="c"),
        row(phone="3331234567", reference="d"),
        # links the e-mail donor and the phone donor: transitively one person
        row(email="MARIO.ROSSI@example.org", phone="(+39) 333 1234567", reference="e"),
        row(last_name="Verdi", address="Via Roma  1", postcode="26100", reference="f"),
        row(last_name="verdi", address="via roma 1", postcode="26100", reference="g"),
        row(first_name="Solo", last_name="Nome", reference="h"),
    )
    assert import_donations(store.app, path).ok
    got = figures(store)
    assert got["contacts"] == 2
    assert got["donors"] == 3  # the name-only gift counts as one anonymous person
    assert got["gifts"] == 8


def test_value_dates_drive_as_of(store: LedgerStore, tmp_path: Path) -> None:
    start_campaigns(store)
    import_donations(
        store.app,
        write_csv(
            tmp_path,
            row(date="01/09/2016", amount="10", reference="x"),
            row(date="02/09/2016", amount="5", email="z@example.org", reference="y"),
        ),
    )
    store.runner.catch_up()
    early = progress(store.database, "fare-legami-anni-2-3", date(2016, 9, 1))[0]
    late = progress(store.database, "fare-legami-anni-2-3", date(2016, 9, 2))[0]
    assert (early["raised_cents"], early["contacts"]) == (1000, 0)
    assert (late["raised_cents"], late["contacts"]) == (1500, 1)


def test_digits_of_other_scripts_are_refused_with_their_line(
    store: LedgerStore, tmp_path: Path
) -> None:
    """`isdigit` and `\\d` take superscripts and Arabic-Indic digits; a spreadsheet cell
    holding them is a typing or encoding accident, never a number of people or a date."""
    start_campaigns(store)
    path = write_csv(
        tmp_path,
        row(donors="²", reference="superscript"),
        row(donors="١٢", reference="arabic-indic"),
        row(date="٠١/٠٩/٢٠١٦", reference="arabic-date"),
        row(date="０１/０９/２０１６", reference="fullwidth-date"),
        row(donors="3", reference="ok"),
    )
    head = store.app.recorder.max_notification_id()
    report = import_donations(store.app, path)
    messages = {e.line: e.message for e in report.errors}
    assert sorted(messages) == [2, 3, 4, 5]
    assert all("donors" in messages[line] for line in (2, 3))
    assert all("date" in messages[line] for line in (4, 5))
    assert not report.written
    assert store.app.recorder.max_notification_id() == head
