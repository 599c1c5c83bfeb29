"""Exports never hand a spreadsheet a formula: names from outside stay text (OWASP)."""

import csv
import io
import re
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ledger.csv_import import COLUMNS
from ledger.gift import Gift
from ledger.identity import DonorDetails
from projections.store import LedgerStore
from tests.helpers import add_campaigns
from web.cli import main
from web.exports import (
    DONOR_COLUMNS,
    FORMULA_LEADS,
    ExportFilters,
    _cell,
    audited_export,
    csv_lines,
    header,
    xlsx_file,
)

HOSTILE = {
    "first_name": '=HYPERLINK("http://evil.example","click")',
    "last_name": "@SUM(1)",
    "organization": "-2+3",
    "city": "+cmd|' /C calc'!A0",
}
PHONE = "+39 333 123 4567"


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as workbook:
        return "".join(
            workbook.read(name).decode()
            for name in workbook.namelist()
            if name.startswith("xl/worksheets/")
        )


def write_hostile_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerow(
            dict.fromkeys(COLUMNS, "")
            | HOSTILE
            | {
                "date": "01/09/2016",
                "campaign": "fare-legami-anni-2-3",
                "channel": "bank",
                "method": "bank_transfer",
                "amount": "25,00",
                "email": "ostile@example.org",
                "phone": PHONE,
                "privacy_consent": "sì",
                "reference": "CRO-EVIL-1",
            }
        )
    return path


def test_hostile_names_imported_from_a_spreadsheet_export_as_text(
    cli: CliRunner, tmp_path: Path
) -> None:
    add_campaigns(cli)
    imported = cli.invoke(main, ["import", "donations", str(write_hostile_csv(tmp_path / "x.csv"))])
    assert imported.exit_code == 0, imported.stderr
    for kind in ("donors", "donations"):
        text_out, book_out = tmp_path / f"{kind}.csv", tmp_path / f"{kind}.xlsx"
        for fmt, out in (("csv", text_out), ("xlsx", book_out)):
            result = cli.invoke(main, ["export", kind, "--format", fmt, "--out", str(out)])
            assert result.exit_code == 0, result.stderr
        rows = list(csv.DictReader(io.StringIO(text_out.read_text("utf-8-sig")), delimiter=";"))
        assert len(rows) == 1
        xml = sheet_xml(book_out)
        assert "<f>" not in xml and "<f " not in xml
        sheet = load_workbook(book_out).active
        assert sheet is not None
        titles = [cell.value for cell in sheet[1]]
        cells = {name: sheet.cell(row=2, column=titles.index(name) + 1) for name in titles}
        if kind == "donors":
            for name, hostile in HOSTILE.items():
                assert rows[0][header(name)] == "'" + hostile
                cell = cells[header(name)]
                assert cell.value == hostile and cell.data_type == "s" and cell.quotePrefix
            # A phone stays readable: text with a leading quote, not the formula `+39…`.
            phone, total = header("phone"), header("total_cents")
            assert rows[0][phone] == "'+393331234567"
            assert cells[phone].value == "+393331234567" and cells[phone].quotePrefix
            assert rows[0][total] == "25,00" and cells[total].value == 25.0
        else:
            assert rows[0][header("donor")] == "'" + HOSTILE["organization"]
            amount = header("amount")
            assert rows[0][amount] == "25,00" and cells[amount].value == 25.0


@given(cents=st.integers(min_value=-(10**12), max_value=10**12))
def test_amounts_negative_or_not_stay_numbers(cents: int) -> None:
    for column in ("amount", "total_cents", "refunded"):
        italian = _cell(column, cents, True)
        assert re.fullmatch(r"-?\d+,\d\d", italian)
        assert round(float(italian.replace(",", ".")) * 100) == cents
        assert round(_cell(column, cents, False) * 100) == cents


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=30)
formula_led = st.builds(lambda lead, rest: lead + rest, st.sampled_from(FORMULA_LEADS), names)


@pytest.fixture
def one_campaign(sqlite_url: str) -> Iterator[LedgerStore]:
    store = LedgerStore.open(sqlite_url)
    store.app.start_campaign("fare-legami-anni-2-3", "Anni 2 e 3", 33_600_000)
    yield store
    store.close()


# The examples share one store (each adds its own donor), hence the suppressed health check.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=st.one_of(formula_led, names), last=st.one_of(formula_led, names))
def test_no_name_becomes_a_formula_in_either_export(
    one_campaign: LedgerStore, tmp_path: Path, first: str, last: str
) -> None:
    key, store = uuid.uuid4().hex, one_campaign
    store.app.record_gift(
        Gift(
            source_key=f"bank:{key}",
            campaign="fare-legami-anni-2-3",
            amount_cents=1234,
            value_date=date(2016, 9, 1),
            channel="bank",
            method="bank_transfer",
            details=DonorDetails(first_name=first, last_name=last, email=f"{key}@example.org"),
            privacy_consent=True,
        )
    )
    store.runner.catch_up()
    plan = audited_export(store, "donors", "xlsx", ExportFilters(), "test")
    book = tmp_path / f"{key}.xlsx"
    with xlsx_file(store.database, plan.sql, plan.params, plan.columns) as workbook:
        book.write_bytes(workbook.read())
    text = "".join(csv_lines(store.database, plan.sql, plan.params, plan.columns))

    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert not [cell for row in table for cell in row if cell.startswith(FORMULA_LEADS)]
    email = DONOR_COLUMNS.index("email")
    [mine] = [row for row in table if row[email] == f"{key}@example.org"]
    xml = sheet_xml(book)
    assert "<f>" not in xml and "<f " not in xml
    sheet = load_workbook(book).active
    assert sheet is not None
    [cells] = [row for row in sheet.iter_rows(min_row=2) if row[email].value == mine[email]]
    for column, original in (("first_name", first), ("last_name", last)):
        led = original.startswith(FORMULA_LEADS)
        assert mine[DONOR_COLUMNS.index(column)] == ("'" if led else "") + original
        cell = cells[DONOR_COLUMNS.index(column)]
        # XML reads every line end as \n; other control characters become U+FFFD.
        kept = ILLEGAL_CHARACTERS_RE.sub("\ufffd", original)
        assert cell.value == kept.replace("\r\n", "\n").replace("\r", "\n")
        assert cell.data_type == "s" and (cell.quotePrefix or not led)


TRICKY = (
    '=1+2;"quoted"',
    "line\nbreak",
    "carriage\rreturn",
    "\ttabbed",
    "-",
    "  spaced  ",
    "Ünïcødé €",
    ";",
    '"',
    "\\.",
)


@pytest.mark.postgres
def test_postgres_formats_the_csv_exactly_as_python_does(postgres_url: str) -> None:
    """On PostgreSQL the CSV is formatted by the server and written by COPY: the same text,
    byte for byte, as `_cell` and csv.writer give for names that need quoting, neutralising
    or both, anonymous gifts, refunds, blank fields and both exports' filters."""
    from web.exports import _copied_lines, _written_lines

    store = LedgerStore.open(postgres_url)
    try:
        store.app.start_campaign("fare-legami-anni-2-3", "Anni 2 e 3", 33_600_000)
        for number, text in enumerate(TRICKY):
            store.app.record_gift(
                Gift(
                    source_key=f"bank:{number}",
                    campaign="fare-legami-anni-2-3",
                    amount_cents=1005 + number * 100_001,
                    value_date=date(2016, 9, 1 + number),
                    channel="bank",
                    method="bank_transfer",
                    details=DonorDetails(
                        first_name=text,
                        last_name="" if number % 2 else text,
                        organization=text if number % 3 == 0 else "",
                        city=text,
                        email=f"d{number}@example.org",
                        phone=PHONE if number == 1 else "",
                    ),
                    privacy_consent=number % 2 == 0,
                    marketing_consent=number % 3 == 0,
                    stand=" ".join(text.split()),
                )
            )
        store.app.record_gift(
            Gift("stand:tally", "fare-legami-anni-2-3", 7, date(2016, 9, 20), "stand", "cash", 12)
        )
        store.app.refund("bank:3", "re_1", 1005 + 3 * 100_001, date(2016, 10, 1))
        store.runner.catch_up()
        for kind, filters in (
            ("donors", ExportFilters()),
            ("donations", ExportFilters()),
            ("donors", ExportFilters(marketing_only=True, date_from=date(2016, 9, 3))),
        ):
            plan = audited_export(store, kind, "csv", filters, "test")
            copied = "".join(_copied_lines(store.database, plan.sql, plan.params, plan.columns))
            written = "".join(_written_lines(store.database, plan.sql, plan.params, plan.columns))
            assert copied == written and written.count("\r\n") >= plan.rows > 0
    finally:
        store.close()
