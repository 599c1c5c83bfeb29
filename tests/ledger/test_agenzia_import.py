"""The donor's opposition to the AdE transmission, stated in the donations CSV: it leaves the
donor (not only the row) out of that year's file, all or nothing, once however often imported."""

from pathlib import Path

import pytest

from ledger.agenzia import choose_transmission
from ledger.csv_import import import_donations
from projections import receipts as receipts_view
from projections.store import LedgerStore
from tests.helpers import GIUSEPPE, HEADER, MARIA, start_campaigns
from web.receipts import agenzia_export

WITH_OPPOSITION = HEADER + ";ade_opposition"


def line(
    day: str,
    amount: str,
    tax_code: str,
    last_name: str,
    opposition: str = "",
    reference: str = "",
    email: str = "",
) -> str:
    """A row of the foundation's spreadsheet, with the ade_opposition column last."""
    fields = dict.fromkeys(WITH_OPPOSITION.split(";"), "")
    fields.update(
        date=day,
        campaign="fare-legami-anni-2-3",
        channel="bank",
        method="bank_transfer",
        amount=amount,
        last_name=last_name,
        email=email,
        tax_code=tax_code,
        privacy_consent="sì",
        reference=reference,
        ade_opposition=opposition,
    )
    return ";".join(fields.values())


def write(
    tmp_path: Path, *rows: str, header: str = WITH_OPPOSITION, name: str = "donazioni.csv"
) -> Path:
    path = tmp_path / name
    path.write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
    return path


ROWS = (
    line("05/09/2016", "40,00", GIUSEPPE, "De Luca", "sì"),
    line("20/12/2016", "15,00", GIUSEPPE, "De Luca", "no"),
    line("10/01/2017", "25,00", GIUSEPPE, "De Luca"),
    line("01/09/2016", "50,00", MARIA, "Colombo", "NO"),
)


@pytest.fixture
def foundation(store: LedgerStore, monkeypatch: pytest.MonkeyPatch) -> LedgerStore:
    monkeypatch.setenv("LEDGER_FOUNDATION_TAX_CODE", "93012345678")
    start_campaigns(store)
    return store


def sent(store: LedgerStore, year: int) -> dict[str, int]:
    """What the year's AdE file sends: tax code -> cents (caught up first, as the CLI is)."""
    store.runner.catch_up()
    _text, lines = agenzia_export(store, year)
    return {line.tax_code: line.amount_cents for line in lines if line.included}


def left_out(store: LedgerStore, year: int) -> dict[tuple[str, str], int]:
    store.runner.catch_up()
    _text, lines = agenzia_export(store, year)
    return {(line.tax_code, line.reason): line.amount_cents for line in lines if not line.included}


def test_an_opposition_in_the_import_leaves_the_donor_out_of_that_year_only(
    foundation: LedgerStore, tmp_path: Path
) -> None:
    report = import_donations(foundation.app, write(tmp_path, *ROWS))
    assert (report.ok, report.new, report.oppositions, report.written) == (True, 4, 1, True)
    # The opposition is the donor's for the year: their other 2016 gift (its row says "no",
    # which records nothing) stays out too; 2017 is sent.
    assert sent(foundation, 2016) == {MARIA: 5000}
    assert left_out(foundation, 2016) == {
        (GIUSEPPE, "il donatore si è opposto alla trasmissione"): 5500
    }
    assert sent(foundation, 2017) == {GIUSEPPE: 2500}
    text, _lines = agenzia_export(foundation, 2016)
    assert GIUSEPPE not in text and f"1{MARIA}000000000005000" in text


def test_importing_the_file_again_records_no_second_opposition(
    foundation: LedgerStore, tmp_path: Path
) -> None:
    path = write(tmp_path, *ROWS)
    import_donations(foundation.app, path)
    head = foundation.app.recorder.max_notification_id()
    again = import_donations(foundation.app, path)
    assert (again.new, again.already_recorded, again.oppositions, again.written) == (0, 4, 0, False)
    assert foundation.app.recorder.max_notification_id() == head


def test_an_opposition_added_to_a_file_imported_before_is_recorded_without_new_gifts(
    foundation: LedgerStore, tmp_path: Path
) -> None:
    # Rows without reference are keyed by their content: the new column stays out of the
    # key, so the gifts are recognised and only the opposition is news.
    old = [line.rsplit(";", 1)[0] for line in ROWS]
    first = import_donations(foundation.app, write(tmp_path, *old, header=HEADER, name="a.csv"))
    assert (first.new, first.oppositions) == (4, 0)
    assert sent(foundation, 2016) == {MARIA: 5000, GIUSEPPE: 5500}
    second = import_donations(foundation.app, write(tmp_path, *ROWS, name="b.csv"))
    assert (second.new, second.already_recorded, second.oppositions, second.written) == (
        0,
        4,
        1,
        True,
    )
    assert sent(foundation, 2016) == {MARIA: 5000}


def test_a_bad_opposition_rejects_the_whole_file_with_its_lines(
    foundation: LedgerStore, tmp_path: Path
) -> None:
    head = foundation.app.recorder.max_notification_id()
    anonymous = line("03/09/2016", "5,00", "", "", "sì")
    report = import_donations(
        foundation.app,
        write(tmp_path, ROWS[0], line("04/09/2016", "9,00", MARIA, "Colombo", "forse"), anonymous),
    )
    assert [(error.line, error.message.split(":")[0]) for error in report.errors] == [
        (3, "ade_opposition"),
        (4, "ade_opposition"),
    ]
    assert "forse" in report.errors[0].message and "identifies" in report.errors[1].message
    assert not report.written
    assert foundation.app.recorder.max_notification_id() == head
    assert sent(foundation, 2016) == {}


def test_the_latest_choice_wins_between_the_import_and_the_back_office(
    foundation: LedgerStore, tmp_path: Path
) -> None:
    import_donations(foundation.app, write(tmp_path, *ROWS))
    foundation.runner.catch_up()
    with foundation.database.reading() as session:
        giuseppe = receipts_view.find_donor(session, GIUSEPPE)
    assert choose_transmission(foundation.app, giuseppe, 2016, False, "telefonata", "staff")
    assert sent(foundation, 2016) == {MARIA: 5000, GIUSEPPE: 5500}
    # A later file that says he opposes (another gift of 2016) is the latest word again.
    import_donations(
        foundation.app,
        write(
            tmp_path,
            line("28/12/2016", "10,00", "", "De Luca", "sì", email="giuseppe.deluca@example.org"),
            line("29/12/2016", "10,00", GIUSEPPE, "De Luca", email="giuseppe.deluca@example.org"),
            name="later.csv",
        ),
    )
    assert sent(foundation, 2016) == {MARIA: 5000}


def test_the_cli_imports_the_opposition_and_its_agenzia_file_leaves_the_donor_out(
    store_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from web.cli import main

    cli = CliRunner(
        env={"LEDGER_DATABASE_URL": store_url, "LEDGER_FOUNDATION_TAX_CODE": "93012345678"}
    )
    assert cli.invoke(main, ["init"]).exit_code == 0
    assert (
        cli.invoke(
            main,
            [
                "campaigns",
                "add",
                "fare-legami-anni-2-3",
                "--name",
                "Anni 2-3",
                "--target",
                "336000",
            ],
        ).exit_code
        == 0
    )
    path = write(tmp_path, *ROWS)
    imported = cli.invoke(main, ["import", "donations", str(path)])
    assert imported.exit_code == 0, imported.output
    assert "added 4 gifts" in imported.output and "added 1 AdE opposition(s)" in imported.output
    out, sheet = tmp_path / "ade-2016.txt", tmp_path / "ade-2016.csv"
    exported = cli.invoke(
        main,
        [
            "export",
            "agenzia-entrate",
            "--year",
            "2016",
            "--out",
            str(out),
            "--accountant-csv",
            str(sheet),
        ],
    )
    assert exported.exit_code == 0, exported.output
    details = [r for r in out.read_bytes().split(b"\r\n") if r[:1] == b"1"]
    assert [(r[1:17].decode().strip(), int(r[17:32])) for r in details] == [(MARIA, 5000)]
    assert f"{GIUSEPPE};De Luca;55,00;2016;no;il donatore si è opposto" in sheet.read_text(
        encoding="utf-8"
    )
    again = cli.invoke(main, ["import", "donations", str(path)])
    assert again.exit_code == 0 and "added 0 gifts" in again.output
    assert "opposition" not in again.output
