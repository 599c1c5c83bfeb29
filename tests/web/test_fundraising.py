"""The fundraising report of a campaign: stand income per day, expenses, net, the note."""

import csv
import io
import uuid
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.errors import InvalidInputError
from ledger.fundraising import record_expense
from ledger.money import format_eur
from projections.store import LedgerStore
from tests.helpers import COINS, COINS_TOTAL, add_campaigns, named, open_stand, pdf_text
from web.cli import main
from web.receipts import fundraising_documents


def closed_stand(store: LedgerStore, place: str, taps: int) -> uuid.UUID:
    stand = open_stand(store, place)
    for _ in range(taps):
        store.app.tally_gift(stand, str(uuid.uuid4()))
    store.app.log_named_gift(stand, named(f"{uuid.uuid4().hex[:8]}@example.org", 2000))
    for counter in ("Anna", "Bruno"):
        store.app.count_cash(stand, counter, COINS)
    store.app.close_stand(stand)
    return stand


def test_report_adds_stand_income_takes_expenses_and_writes_pdf_and_csv(
    store: LedgerStore, tmp_path: Path
) -> None:
    first = closed_stand(store, "Piazza del Comune", 20)
    closed_stand(store, "Piazza Roma", 7)
    store.app.record_deposit("CRO-0001", COINS_TOTAL, date(2016, 9, 12), [first])
    assert record_expense(
        store.app, "fare-legami-anni-2-3", 12_000, date(2016, 9, 1), "Noleggio gazebo", "staff"
    )
    assert record_expense(
        store.app, "fare-legami-anni-2-3", 4_550, date(2016, 9, 2), "Volantini  stampati", "staff"
    )
    assert not record_expense(
        store.app, "fare-legami-anni-2-3", 4_550, date(2016, 9, 2), "Volantini stampati", "staff"
    )  # a resend
    store.runner.catch_up()  # documents read the read models as they are (the caller's policy)
    pdf, table = fundraising_documents(
        store, "fare-legami-anni-2-3", "sostegno alle famiglie fragili del distretto"
    )
    rows = list(csv.reader(io.StringIO(table.lstrip("\ufeff")), delimiter=";"))
    income = [r for r in rows if r[0] == "entrata"]
    assert sorted((r[2], int(r[4])) for r in income) == [
        ("Piazza Roma", 8),
        ("Piazza del Comune", 21),
    ]
    net = 2 * COINS_TOTAL - 12_000 - 4_550
    assert rows[-1] == ["risultato netto", "", "", "", "", f"{net // 100},{net % 100:02d}"]
    (tmp_path / "rendiconto.pdf").write_bytes(pdf)
    text = pdf_text(tmp_path / "rendiconto.pdf")
    for expected in (
        "Rendiconto della raccolta pubblica di fondi occasionale",
        "art. 87, comma 6",
        "art. 79, comma 4, lettera a)",
        "9 giugno 2022",
        "Noleggio gazebo",
        "Volantini stampati",
        format_eur(2 * COINS_TOTAL),
        f"Risultato netto della raccolta: {format_eur(net)}",
        "CRO-0001",
        "Dove: Piazza Roma, Piazza del Comune",
        "Quando: dal 10/09/2016 al 10/09/2016",
        "sostegno alle famiglie fragili del distretto",
    ):
        assert expected in text, expected


@pytest.mark.parametrize(("amount", "what"), [(0, "gazebo"), (100, "  ")])
def test_a_bad_expense_is_refused(store: LedgerStore, amount: int, what: str) -> None:
    open_stand(store)
    with pytest.raises(InvalidInputError):
        record_expense(store.app, "fare-legami-anni-2-3", amount, date(2016, 9, 1), what, "s")


def test_cli_records_expenses_and_writes_the_report(cli: CliRunner, tmp_path: Path) -> None:
    add_campaigns(cli)
    args = [
        "campaigns",
        "expense",
        "fare-legami-anni-2-3",
        "--amount",
        "1.234,50",
        "--on",
        "03/09/2016",
        "--what",
        "Gazebo e tavoli",
    ]
    first, again = cli.invoke(main, args), cli.invoke(main, args)
    assert first.exit_code == 0 and "€ 1.234,50 recorded" in first.output
    assert "already recorded" in again.output
    out, sheet = tmp_path / "r.pdf", tmp_path / "r.csv"
    result = cli.invoke(
        main,
        [
            "report",
            "fundraising",
            "fare-legami-anni-2-3",
            "--use",
            "borse lavoro",
            "--out",
            str(out),
            "--csv",
            str(sheet),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Risultato netto della raccolta: {format_eur(-123450)}" in pdf_text(out)
    assert "spesa;2016-09-03;Gazebo e tavoli;;;1234,50" in sheet.read_text(encoding="utf-8")
    bad = cli.invoke(
        main,
        ["campaigns", "expense", "nessuna", "--amount", "5", "--on", "03/09/2016", "--what", "x"],
    )
    assert bad.exit_code == 1 and "unknown campaign" in bad.output
