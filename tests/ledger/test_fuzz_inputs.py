"""Any input to the parsers and the CSV importer gives a clean result or a clean LedgerError."""

from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import LedgerApplication
from ledger.csv_import import ImportReport, import_donations
from ledger.dates import parse_date
from ledger.errors import LedgerError
from ledger.money import parse_cents
from tests.helpers import HEADER
from web.cli import DEMO_CAMPAIGNS

# Text as spreadsheets, phones and attackers write it: digits, separators, currency signs,
# Unicode digits and spaces, control characters, and anything else.
WRITTEN = st.one_of(
    st.text(alphabet="0123456789.,€ -+eE/\u00a0\u202f\u0660\u0967٫'", max_size=24),
    st.text(max_size=24),
)


@given(WRITTEN)
@settings(max_examples=600, deadline=None)
def test_any_amount_text_is_cents_or_a_clean_error(text: str) -> None:
    try:
        cents = parse_cents(text)
    except LedgerError:
        return
    assert isinstance(cents, int)


@given(
    st.one_of(
        WRITTEN, st.dates().map(lambda d: d.strftime("%d/%m/%Y")), st.dates().map(date.isoformat)
    )
)
@settings(max_examples=600, deadline=None)
def test_any_date_text_is_a_date_or_a_clean_error(text: str) -> None:
    try:
        parsed = parse_date(text)
    except LedgerError:
        return
    assert isinstance(parsed, date)


def _ledger() -> LedgerApplication:
    app = LedgerApplication()
    for slug, name, target, starts, ends in DEMO_CAMPAIGNS:
        app.start_campaign(slug, name, target, starts, ends)
    return app


APP = _ledger()
CELL = st.one_of(
    st.sampled_from(
        [
            "",
            "sì",
            "no",
            "1",
            "20,00",
            "01/07/2015",
            "stand",
            "cash",
            "fare-legami-anno-1",
            "Cremona",
            "=1+1",
            '"',
            ";",
        ]
    ),
    st.text(max_size=12),
)
ROW = st.lists(CELL, min_size=0, max_size=23).map(";".join)
SPREADSHEET = st.builds(
    lambda bom, rows, newline: (("\ufeff" if bom else "") + newline.join([HEADER, *rows])).encode(
        "utf-8"
    ),
    st.booleans(),
    st.lists(ROW, max_size=6),
    st.sampled_from(["\r\n", "\n", "\r"]),
)


@given(
    st.one_of(
        st.binary(max_size=400),
        SPREADSHEET,
        SPREADSHEET.map(lambda data: data.decode("utf-8").encode("cp1252", "replace")),
    ),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_any_file_imports_cleanly_or_is_refused_cleanly(data: bytes, dry_run: bool) -> None:
    with TemporaryDirectory() as folder:
        path = Path(folder) / "donations.csv"
        path.write_bytes(data)
        try:
            report = import_donations(APP, path, dry_run=dry_run)
        except LedgerError:
            return
    assert isinstance(report, ImportReport)
    assert report.rows >= 0 and report.new + report.already_recorded <= report.rows
