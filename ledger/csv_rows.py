"""Donations CSV rows: the columns of the foundation's spreadsheets (DESIGN.md), read in any
Excel flavour of UTF-8, each row keyed for idempotency and checked into a Gift."""

import codecs
import csv
import hashlib
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO

from ledger.dates import parse_date
from ledger.errors import LedgerError
from ledger.gift import DISTRICTS, Gift
from ledger.identity import DETAIL_FIELDS, DonorDetails
from ledger.money import parse_cents

# The columns a row without reference is keyed by: a column added later stays out of the key,
# so files imported before it existed are still recognised.
KEYED_COLUMNS = (
    "date",
    "campaign",
    "channel",
    "method",
    "amount",
    "donors",
    "first_name",
    "last_name",
    "organization",
    "email",
    "phone",
    "address",
    "postcode",
    "city",
    "province",
    "tax_code",
    "privacy_consent",
    "marketing_consent",
    "stand",
    "district",
    "reference",
)
# ade_opposition: the row's donor opposes sending the gifts of the row's year to the Agenzia
# delle Entrate (optional; sì records it, no or blank records nothing).
COLUMNS = (*KEYED_COLUMNS, "ade_opposition")
REQUIRED = ("date", "campaign", "channel", "method", "amount")
YES = {"sì", "si", "sí", "yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}


# A file repeats its days and its amounts: each distinct text is parsed once (an error is
# raised afresh every time: lru_cache keeps only results).
_parse_date = lru_cache(maxsize=4096)(parse_date)
_parse_cents = lru_cache(maxsize=4096)(parse_cents)


class FileError(LedgerError):
    """The file as a whole cannot be read (encoding, header)."""


def _consent(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise LedgerError(f"{name}: write sì/no (or yes/no, true/false, 1/0), not {text!r}")


def _district(text: str) -> str:
    value = text.strip()
    for district in DISTRICTS:
        if value.lower() == district.lower():
            return district
    return value


def open_text(path: Path) -> IO[str]:
    """UTF-8 with or without BOM; any newline convention."""
    raw = path.read_bytes()[:4] if path.stat().st_size else b""
    encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    return open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed by the caller


def read_rows(stream: IO[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; the header is line 1 and must name the DESIGN.md columns."""
    try:
        header_line = stream.readline()
    except UnicodeDecodeError as error:
        raise FileError("the file is not UTF-8 text (save it as 'CSV UTF-8')") from error
    if not header_line.strip():
        raise FileError("the file is empty: a header row is required")
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    header = [name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter))]
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in header]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        raise FileError(f"line 1 (header): {'; '.join(parts)}; expected {';'.join(COLUMNS)}")
    reader = csv.reader(stream, delimiter=delimiter)
    previous_end = 1
    try:
        for values in reader:
            line = previous_end + 1
            previous_end = reader.line_num + 1
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                yield (
                    line,
                    {
                        "__error__": f"{len(values)} fields where the header has "
                        f"{len(header)} (check the delimiter and quotes)"
                    },
                )
                continue
            yield line, dict(zip(header, values, strict=True))
    except UnicodeDecodeError as error:
        raise FileError(f"line {previous_end + 1}: not UTF-8 text") from error
    except csv.Error as error:
        raise FileError(f"line {previous_end + 1}: {error}") from error


def row_key(row: dict[str, str], occurrences: dict[str, int]) -> str:
    """The row's idempotency key: its reference, else a hash of its content and occurrence."""
    reference = row.get("reference", "").strip()
    if reference:
        return f"csv:{reference}"
    content = "\x1f".join(row.get(name, "").strip() for name in KEYED_COLUMNS)
    digest = hashlib.sha256(content.encode()).hexdigest()[:32]
    occurrences[digest] = occurrences.get(digest, 0) + 1
    return f"csv-row:{digest}:{occurrences[digest]}"


def parse_row(row: dict[str, str], source_key: str) -> tuple[Gift, bool]:
    """A row as a Gift, and whether its donor opposes the AdE transmission of the row's year;
    raises LedgerError naming every problem of the row."""
    if "__error__" in row:
        raise LedgerError(row["__error__"])
    problems: list[str] = []

    def attempt(name: str, parse: Callable[[], object]) -> object:
        try:
            return parse()
        except LedgerError as error:
            problems.append(f"{name}: {error}" if not str(error).startswith(name) else str(error))
            return None

    value_date = attempt("date", lambda: _parse_date(row["date"]))
    amount = attempt("amount", lambda: _parse_cents(row["amount"]))
    donors_text = row.get("donors", "").strip() or "1"
    if not (donors_text.isascii() and donors_text.isdigit()):  # not "²", not "١٢"
        problems.append(f"donors: not a whole number: {donors_text!r}")
    details = attempt(
        "donor", lambda: DonorDetails.parse(**{name: row.get(name, "") for name in DETAIL_FIELDS})
    )
    privacy = attempt(
        "privacy_consent", lambda: _consent(row.get("privacy_consent", ""), "privacy_consent")
    )
    marketing = attempt(
        "marketing_consent", lambda: _consent(row.get("marketing_consent", ""), "marketing_consent")
    )
    opposes = attempt(
        "ade_opposition", lambda: _consent(row.get("ade_opposition", ""), "ade_opposition")
    )
    if opposes and isinstance(details, DonorDetails) and not details.is_identified:
        problems.append(
            "ade_opposition: sì only on a row that identifies the donor (tax code, "
            "e-mail, phone or address with postcode)"
        )
    if problems:
        raise LedgerError("; ".join(problems))
    assert isinstance(details, DonorDetails)
    gift = Gift(
        source_key=source_key,
        campaign=row["campaign"].strip(),
        amount_cents=amount,  # type: ignore[arg-type]
        value_date=value_date,  # type: ignore[arg-type]
        channel=row["channel"].strip().lower(),
        method=row["method"].strip().lower(),
        donors=int(donors_text),
        details=details,
        privacy_consent=bool(privacy),
        marketing_consent=bool(marketing),
        district=_district(row.get("district", "")),
        stand=row.get("stand", "").strip(),
    )
    return gift, bool(opposes)
