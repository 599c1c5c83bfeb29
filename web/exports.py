"""Donor and donation exports: CSV for Italian Excel and XLSX, streamed in flat memory.

How identifiers stay text (phones, tax codes, postcodes, references, ids):

- XLSX is the file to open in Excel or LibreOffice: each of these cells is a string cell, so
  no leading zero is lost and no long number turns into `3,93486E+11`; money cells are
  numbers in euro format, dates are real dates shown `dd/mm/yyyy`, the header row is bold,
  frozen and filterable.
- CSV is for other programs and for import wizards: `;` separated, UTF-8 with BOM, decimal
  comma, `dd/mm/yyyy`, every value quoted. Excel's double click still guesses column types
  from a CSV, whatever the quotes; the `="00123"` trick would keep the zeros but is a
  formula, and no export ever holds one. Phones are written `+39…` behind a quote (below),
  so they stay text even there.
"""

import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import IO, Any

from flask import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from projections.database import Database
from projections.exports import (
    DONATION_COLUMNS,
    DONOR_COLUMNS,
    ExportFilters,
    computed_columns,
    count_rows,
    donations_query,
    donors_query,
)
from projections.store import LedgerStore
from web.i18n import in_language
from web.labels import WORDS

MONEY = {"total_cents", "amount", "refunded"}
DATES = {"last_gift", "date"}
TEXT = {"donor_id", "phone", "postcode", "tax_code", "reference", "email", "province"}
# The headers as the foundation's staff read them; the same in CSV and XLSX.
HEADERS = {
    "donor_id": "ID donatore",
    "first_name": "Nome",
    "last_name": "Cognome",
    "organization": "Ente",
    "email": "E-mail",
    "phone": "Telefono",
    "address": "Indirizzo",
    "postcode": "CAP",
    "city": "Comune",
    "province": "Provincia",
    "tax_code": "Codice fiscale",
    "privacy_consent": "Consenso privacy",
    "marketing_consent": "Consenso notizie",
    "gifts": "Donazioni",
    "total_cents": "Totale (€)",
    "last_gift": "Ultima donazione",
    "date": "Data valuta",
    "campaign": "Campagna",
    "channel": "Canale",
    "method": "Modalità",
    "amount": "Importo (€)",
    "donors": "Persone",
    "status": "Stato",
    "refunded": "Rimborsato (€)",
    "district": "Distretto",
    "stand": "Banchetto",
    "reference": "Riferimento",
    "donor": "Donatore",
}
EURO = '#,##0.00 "€"'
WIDTHS = {"donor_id": 38, "email": 32, "address": 30, "donor": 28, "reference": 22}
CONSENTS = {"privacy_consent", "marketing_consent"}
NUMBERS = {"gifts", "donors"}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection);
# names reach the exports from imports, stands and Stripe, so from outside.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


@cache
def italian_words() -> dict[str, dict[str, str]]:
    """The codes the ledger stores, in the words of web.labels: in Italian, the exports'
    language, whatever the page's."""
    return {
        column: {code: in_language(word, "it") for code, word in words.items()}
        for column, words in WORDS.items()
    }


def attachment(body: Any, filename: str, content_type: str) -> Response:
    """A file the browser saves as `filename` (an export, a receipt, a report), not shows."""
    return Response(
        body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def neutralised(text: str) -> str:
    """Text a spreadsheet would read as a formula, kept as text by a leading quote."""
    return "'" + text if text.startswith(FORMULA_LEADS) else text


@dataclass(frozen=True)
class Export:
    """One export, already recorded in the audit trail with its filters and row count."""

    sql: str
    params: list[Any]
    columns: tuple[str, ...]
    rows: int


def audited_export(
    store: LedgerStore, kind: str, fmt: str, filters: ExportFilters, who: str
) -> Export:
    """Count what `kind` ("donors" or "donations") would export and record who exports it,
    before a single row leaves."""
    sql, params = donors_query(filters) if kind == "donors" else donations_query(filters)
    columns = DONOR_COLUMNS if kind == "donors" else DONATION_COLUMNS
    rows = count_rows(store.database, sql, params)
    store.app.record_audit(f"export_{kind}_{fmt}", who, filters.as_dict(), rows)
    return Export(sql, params, columns, rows)


def _cell(column: str, value: Any, italian: bool) -> Any:
    if value is None:
        return ""
    if column in MONEY:
        cents = int(value)
        text = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
        return text.replace(".", ",") if italian else float(text)
    if column in DATES and value:
        day = date.fromisoformat(str(value))
        return day.strftime("%d/%m/%Y") if italian else day
    if column in WORDS:
        return italian_words()[column].get(value, value)
    if column in CONSENTS:
        return ("sì" if value else "no") if italian else bool(value)
    return neutralised(value) if italian and isinstance(value, str) else value


def header(column: str) -> str:
    return HEADERS.get(column, column)


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any, column: str = "") -> Any:
    """A formula-led text as a string cell with Excel's quote prefix: shown as typed
    (`+39…` stays readable), never evaluated, and still text after an edit. Identifiers
    are string cells (typed text), money cells numbers in euro, dates real dates."""
    if column in MONEY and isinstance(value, float):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = EURO
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "DD/MM/YYYY"
        return cell
    if not isinstance(value, str):
        return value
    # Control characters XML cannot carry would abort the whole export half-way.
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if not value.startswith(FORMULA_LEADS) and column not in TEXT:
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    cell.quotePrefix = value.startswith(FORMULA_LEADS)
    return cell


def csv_lines(
    database: Database, sql: str, params: list[Any], columns: tuple[str, ...]
) -> Iterator[str]:
    """CSV as Italian Excel opens it: UTF-8 with BOM, `;`, every value quoted, Italian
    headers, decimal comma, dd/mm/yyyy."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header(column) for column in columns)
    yield "\ufeff" + buffer.getvalue()
    if database.dialect == "postgresql":
        yield from _copied_lines(database, sql, params, columns)
    else:
        yield from _written_lines(database, sql, params, columns)


def _written_lines(
    database: Database, sql: str, params: list[Any], columns: tuple[str, ...]
) -> Iterator[str]:
    """The rows formatted by `_cell`, written by csv.writer, one line each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    for row in database.stream(sql, params):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(_cell(c, v, True) for c, v in zip(columns, row, strict=True))
        yield buffer.getvalue()


def _italian_sql(column: str, name: str) -> str:
    """`_cell(column, value, True)` as a PostgreSQL expression over `name`, never NULL: COPY
    quotes every value (FORCE_QUOTE), as csv.writer does with QUOTE_ALL, empty ones too."""
    return f"COALESCE({_italian_value(column, name)}, '')"


def _italian_value(column: str, name: str) -> str:
    if column in MONEY:
        return (
            f"CASE WHEN {name} < 0 THEN '-' ELSE '' END || (ABS({name})::bigint / 100)::text "
            f"|| ',' || LPAD(MOD(ABS({name})::bigint, 100)::text, 2, '0')"
        )
    if column in DATES:
        return (
            f"NULLIF(SUBSTR({name}, 9, 2) || '/' || SUBSTR({name}, 6, 2) || '/' || "
            f"SUBSTR({name}, 1, 4), '//')"
        )
    if column in WORDS:
        words = italian_words()[column].items()
        cases = " ".join(f"WHEN '{code}' THEN '{word}'" for code, word in words)
        return f"CASE {name} {cases} ELSE {name} END"
    if column in CONSENTS:
        return f"CASE WHEN {name} IS NULL THEN NULL WHEN {name} <> 0 THEN 'sì' ELSE 'no' END"
    if column in NUMBERS:
        return f"{name}::text"
    leads = ", ".join(f"CHR({ord(lead)})" for lead in FORMULA_LEADS)
    return f"CASE WHEN LEFT({name}, 1) IN ({leads}) THEN '''' || {name} ELSE {name} END"


def _copied_lines(
    database: Database, sql: str, params: list[Any], columns: tuple[str, ...]
) -> Iterator[str]:
    """The rows formatted by PostgreSQL itself and written by COPY … CSV: the same text as
    `_cell` and csv.writer give (tests/web/test_export_formulas.py compares them), at the
    speed of COPY. COPY ends a row with LF, Excel's CSV with CR LF."""
    formatted = computed_columns(sql, [_italian_sql(c, f"c{i}") for i, c in enumerate(columns)])
    lines: list[str] = []
    for chunk in database.copy_out(
        formatted, params, "WITH (FORMAT csv, DELIMITER ';', FORCE_QUOTE *)"
    ):
        lines.append(chunk[:-1].decode() + "\r\n")
        if len(lines) == 1000:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def xlsx_file(
    database: Database, sql: str, params: list[Any], columns: tuple[str, ...]
) -> IO[bytes]:
    """An XLSX built in write-only mode (rows go to disk as they come), returned rewound:
    bold frozen header with filters, widths by column, euro amounts, real dates."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Fondo")
    for index, column in enumerate(columns, start=1):
        width = WIDTHS.get(column, max(len(header(column)) + 4, 14))
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    titles = []
    for column in columns:
        title = WriteOnlyCell(sheet, header(column))
        title.font = bold
        titles.append(title)
    sheet.append(titles)
    rows = 0
    for row in database.stream(sql, params):
        sheet.append(
            [_xlsx_cell(sheet, _cell(c, v, False), c) for c, v in zip(columns, row, strict=True)]
        )
        rows += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"
    output = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(output)
    output.seek(0)
    return output
