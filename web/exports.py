"""Donor and donation exports: CSV for Italian Excel and XLSX, streamed in flat memory."""

import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from projections.database import Database
from projections.store import LedgerStore

DONOR_COLUMNS = ("donor_id", "first_name", "last_name", "organization", "email", "phone",
                 "address", "postcode", "city", "province", "tax_code", "privacy_consent",
                 "marketing_consent", "gifts", "total_cents", "last_gift")
DONATION_COLUMNS = ("date", "campaign", "channel", "method", "amount", "donors", "status",
                    "refunded", "district", "stand", "reference", "donor_id", "donor",
                    "email")
MONEY = {"total_cents", "amount", "refunded"}
DATES = {"last_gift", "date"}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection);
# names reach the exports from imports, stands and Stripe, so from outside.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """Text a spreadsheet would read as a formula, kept as text by a leading quote."""
    return "'" + text if text.startswith(FORMULA_LEADS) else text


@dataclass(frozen=True)
class ExportFilters:
    campaign: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    marketing_only: bool = False
    with_tax_code: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign,
                "from": self.date_from.isoformat() if self.date_from else None,
                "to": self.date_to.isoformat() if self.date_to else None,
                "marketing_only": self.marketing_only, "with_tax_code": self.with_tax_code}


def _gift_conditions(filters: ExportFilters, alias: str) -> tuple[list[str], list[Any]]:
    conditions, params = [f"{alias}.status = 'confirmed'"], []
    if filters.campaign:
        conditions.append(f"{alias}.campaign = ?")
        params.append(filters.campaign)
    if filters.date_from:
        conditions.append(f"{alias}.value_date >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        conditions.append(f"{alias}.value_date <= ?")
        params.append(filters.date_to.isoformat())
    return conditions, params


def _donor_conditions(filters: ExportFilters) -> list[str]:
    return [condition for wanted, condition in (
        (filters.marketing_only, "d.marketing_consent = 1"),
        (filters.with_tax_code, "d.tax_code <> ''")) if wanted]


def donors_query(filters: ExportFilters) -> tuple[str, list[Any]]:
    conditions, params = _gift_conditions(filters, "g")
    conditions += ["d.erased = 0", *_donor_conditions(filters)]
    sql = (
        "SELECT d.donor_id, d.first_name, d.last_name, d.organization, d.email, d.phone, "
        "d.address, d.postcode, d.city, d.province, d.tax_code, d.privacy_consent, "
        "d.marketing_consent, COUNT(*), SUM(g.amount_cents), MAX(g.value_date) "
        "FROM registry_donors d JOIN registry_gifts g ON g.donor_id = d.donor_id "
        f"WHERE {' AND '.join(conditions)} GROUP BY d.donor_id, d.first_name, d.last_name, "
        "d.organization, d.email, d.phone, d.address, d.postcode, d.city, d.province, "
        "d.tax_code, d.privacy_consent, d.marketing_consent ORDER BY d.last_name, d.donor_id")
    return sql, params


def donations_query(filters: ExportFilters) -> tuple[str, list[Any]]:
    conditions, params = _gift_conditions(filters, "v")
    conditions += _donor_conditions(filters)
    sql = (
        "SELECT v.value_date, v.campaign, v.channel, v.method, v.amount_cents, v.people, "
        "v.status, v.refunded_cents, v.district, v.stand, v.source_key, "
        "COALESCE(d.donor_id, ''), COALESCE(d.display_name, ''), COALESCE(d.email, '') "
        "FROM gifts_view v LEFT JOIN registry_gifts g ON g.donation_id = v.donation_id "
        "LEFT JOIN registry_donors d ON d.donor_id = g.donor_id "
        f"WHERE {' AND '.join(conditions)} ORDER BY v.value_date, v.source_key")
    return sql, params


def count_rows(database: Database, sql: str, params: list[Any]) -> int:
    with database.reading() as session:
        return int(session.scalar(f"SELECT COUNT(*) FROM ({sql}) counted", params, default=0))


@dataclass(frozen=True)
class Export:
    """One export, already recorded in the audit trail with its filters and row count."""

    sql: str
    params: list[Any]
    columns: tuple[str, ...]
    rows: int


def audited_export(store: LedgerStore, kind: str, fmt: str, filters: ExportFilters,
                   who: str) -> Export:
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
    if column in ("privacy_consent", "marketing_consent"):
        return ("sì" if value else "no") if italian else bool(value)
    return neutralised(value) if italian and isinstance(value, str) else value


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """A formula-led text as a string cell with Excel's quote prefix: shown as typed
    (`+39…` stays readable), never evaluated, and still text after an edit."""
    if not isinstance(value, str):
        return value
    # Control characters XML cannot carry would abort the whole export half-way.
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if not value.startswith(FORMULA_LEADS):
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def csv_lines(database: Database, sql: str, params: list[Any],
              columns: tuple[str, ...]) -> Iterator[str]:
    """CSV as Italian Excel opens it: UTF-8 with BOM, `;`, decimal comma, dd/mm/yyyy."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(column.replace("_cents", "") for column in columns)
    yield "\ufeff" + buffer.getvalue()
    for row in database.stream(sql, params):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(_cell(c, v, True) for c, v in zip(columns, row, strict=True))
        yield buffer.getvalue()


def xlsx_file(database: Database, sql: str, params: list[Any],
              columns: tuple[str, ...]) -> IO[bytes]:
    """An XLSX built in write-only mode (rows go to disk as they come), returned rewound."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Fondo")
    sheet.append([column.replace("_cents", "") for column in columns])
    for row in database.stream(sql, params):
        sheet.append([_xlsx_cell(sheet, _cell(c, v, False))
                      for c, v in zip(columns, row, strict=True)])
    output = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(output)
    output.seek(0)
    return output
