"""Donations CSV import: every row checked first, then all of them recorded in one
transaction, or none; the same file again adds nothing."""

import pickle
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.agenzia import TransmissionChoice, oppose_on_gift, opposition_recorded
from ledger.application import LedgerApplication
from ledger.csv_rows import COLUMNS, FileError, open_text, parse_row, read_rows, row_key
from ledger.errors import ConflictError, LedgerError
from ledger.gift import Gift

__all__ = ["COLUMNS", "FileError", "ImportReport", "RowError", "import_donations"]

# Rows checked, spooled and written at a time: one query for resends, one INSERT statement.
WRITE_BATCH = 500
# A concurrent writer of the same keys rolls the import back whole; then it is checked again.
WRITE_ATTEMPTS = 3


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


def _gifts(
    path: Path, on_row: Callable[[int], None] | None
) -> Iterator[tuple[int, Gift | None, bool, str | None]]:
    """(line, gift or None, opposes, problem or None) for every data row of the file."""
    occurrences: dict[str, int] = {}
    with open_text(path) as stream:
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
