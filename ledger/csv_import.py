"""Donations CSV: reading the foundation's spreadsheets into gifts, all or nothing."""

import codecs
import csv
import hashlib
import pickle
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.agenzia import TransmissionChoice, oppose_on_gift, opposition_recorded
from ledger.application import LedgerApplication
from ledger.dates import parse_date
from ledger.errors import ConflictError, LedgerError
from ledger.gift import DISTRICTS, Gift
from ledger.identity import DonorDetails
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
DETAIL_FIELDS = (
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
)
# Rows checked, spooled and written at a time: one query for resends, one INSERT statement.
WRITE_BATCH = 500
# A concurrent writer of the same keys rolls the import back whole; then it is checked again.
WRITE_ATTEMPTS = 3
YES = {"sì", "si", "sí", "yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class ImportReport:
    """What an import did, or would do with --dry-run."""

    rows: int = 0
    new: int = 0
    already_recorded: int = 0
    raised_cents: int = 0
    oppositions: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


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


def _open_text(path: Path) -> IO[str]:
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

    value_date = attempt("date", lambda: parse_date(row["date"]))
    amount = attempt("amount", lambda: parse_cents(row["amount"]))
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


def _gifts(
    path: Path, on_row: Callable[[int], None] | None
) -> Iterator[tuple[int, Gift | None, bool, str | None]]:
    """(line, gift or None, opposes, problem or None) for every data row of the file."""
    occurrences: dict[str, int] = {}
    with _open_text(path) as stream:
        for line, row in read_rows(stream):
            if on_row is not None:
                on_row(line)
            try:
                gift, opposes = parse_row(row, row_key(row, occurrences))
            except LedgerError as error:
                yield line, None, False, str(error)
                continue
            yield line, gift, opposes, None


def _opposition(gift: Gift) -> TransmissionChoice:
    """The opposition a row states, keyed by its gift: recorded once however often the file
    is imported, and counted for the gift's donor by the AdE file."""
    return oppose_on_gift(
        gift.donation_id,
        gift.value_date.year,
        how=f"importazione CSV ({gift.source_key})",
        by="csv-import",
    )


def import_donations(
    app: LedgerApplication,
    path: Path,
    dry_run: bool = False,
    on_row: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every row first; write only when all are good, in one transaction. A second
    import adds nothing. `on_row(line)` is called for every data row as it is checked, and
    again as it is written.

    The file is read once. Each batch of rows is checked (resends recognised with one query
    per batch) and, while no row has failed, turned into the events that record it — sealing
    keys made in the vault first — kept in a spool file, so that memory holds one batch
    whatever the size of the file. Only when every row is good are the spooled events
    written, in one transaction: the event table is locked for the writing alone.
    """
    attempt = 1
    while True:
        with tempfile.TemporaryFile() as spool:
            report = _check(app, path, on_row, None if dry_run else spool)
            if dry_run or report.errors or not (report.new or report.oppositions):
                return report
            try:
                app.record_stored(_unspool(spool, on_row))
            except IntegrityError:
                # Another process recorded one of these gifts between the check and the write.
                # The transaction rolled back whole; a new check sees it as a resend or conflict.
                if attempt == WRITE_ATTEMPTS:
                    raise ConflictError(
                        "other writers keep recording gifts of this file "
                        "meanwhile: nothing was imported, try again"
                    ) from None
                attempt += 1
                continue
        report.written = True
        return report


def _check(
    app: LedgerApplication,
    path: Path,
    on_row: Callable[[int], None] | None,
    spool: IO[bytes] | None,
) -> ImportReport:
    """The report of every row; with a `spool`, the events of the new rows written to it a
    batch at a time (until a row fails: then nothing will be written anyway)."""
    report = ImportReport()
    first_line_of: dict[str, int] = {}
    known_campaigns: set[str] = set()
    checked = _fingerprint(path)
    batch: list[tuple[int, Gift, bool]] = []
    lines: list[int] = []

    def check_batch() -> None:
        to_write = _check_batch(app, batch, report, known_campaigns)
        if spool is not None and not report.errors:
            events = app.stored_events_for(to_write, known_campaigns) if to_write else []
            pickle.dump((lines.copy(), events), spool, protocol=pickle.HIGHEST_PROTOCOL)
        batch.clear()
        lines.clear()

    for line, gift, opposes, problem in _gifts(path, on_row):
        report.rows += 1
        lines.append(line)
        if gift is None:
            report.errors.append(RowError(line, problem or "unreadable row"))
        elif gift.source_key in first_line_of:
            repeated = first_line_of[gift.source_key]
            report.errors.append(RowError(line, f"reference repeats line {repeated}"))
        else:
            first_line_of[gift.source_key] = line
            batch.append((line, gift, opposes))
        if len(lines) == WRITE_BATCH:
            check_batch()
    check_batch()
    if _fingerprint(path) != checked:
        raise FileError("the file changed while it was being imported: nothing was imported")
    report.errors.sort(key=lambda error: error.line)
    return report


def _check_batch(
    app: LedgerApplication,
    batch: list[tuple[int, Gift, bool]],
    report: ImportReport,
    known_campaigns: set[str],
) -> list[Gift | TransmissionChoice]:
    """Count the batch's rows in the report; the new gifts and oppositions to record."""
    recorded = app.recorded([gift.donation_id for _line, gift, _opposes in batch])
    to_write: list[Gift | TransmissionChoice] = []
    for line, gift, opposes in batch:
        try:
            if gift.campaign not in known_campaigns:
                app.get_campaign(gift.campaign)
                known_campaigns.add(gift.campaign)
            if gift.donation_id in recorded and app.check_resend(gift):
                report.already_recorded += 1
            else:
                report.new += 1
                report.raised_cents += gift.amount_cents
                to_write.append(gift)
            # An opposition added to a row imported before is recorded too: it is news.
            if opposes and not opposition_recorded(app, gift.donation_id, gift.value_date.year):
                report.oppositions += 1
                to_write.append(_opposition(gift))
        except LedgerError as error:
            report.errors.append(RowError(line, str(error)))
    return to_write


def _unspool(spool: IO[bytes], on_row: Callable[[int], None] | None) -> Iterator[list[StoredEvent]]:
    """The spooled events, a batch at a time, ticking `on_row` for the rows each covers."""
    spool.seek(0)
    while True:
        try:
            lines, events = pickle.load(spool)  # noqa: S301 - this process wrote it just now
        except EOFError:
            return
        if on_row is not None:
            for line in lines:
                on_row(line)
        yield events


def _fingerprint(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns
