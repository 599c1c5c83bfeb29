"""Receipts for the back office and the CLI: batch issuing, voids, the PDFs of receipts and
statements."""

import csv
import io
import os
from collections.abc import Callable
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from ledger.agenzia import agenzia_file
from ledger.errors import NotFoundError
from ledger.receipts import IssueOutcome, Receipts
from projections import receipts as receipts_view
from projections.agenzia import Line, agenzia_lines, file_records
from projections.fundraising import fundraising_report
from projections.reports import list_campaigns
from projections.store import LedgerStore
from web.pdf import Foundation, fundraising_pdf, receipt_pdf, statement_pdf


def foundation_today() -> date:
    """Today where the foundation is (LEDGER_TIMEZONE, Europe/Rome by default)."""
    return datetime.now(ZoneInfo(os.environ.get("LEDGER_TIMEZONE") or "Europe/Rome")).date()


def issue_year(store: LedgerStore, year: int, on: date,
               progress: Callable[[int, int], None] | None = None) -> IssueOutcome:
    """Receipt every identified, confirmed gift of `year` that has none in force."""
    store.runner.catch_up()
    with store.database.reading() as session:
        keys = receipts_view.gifts_to_receipt(session, year)
    outcome = Receipts(store.app).issue(
        keys, on, progress=(lambda done: progress(done, len(keys))) if progress else None)
    store.runner.catch_up()
    return outcome


def _campaign_names(store: LedgerStore) -> dict[str, str]:
    with store.database.reading() as session:
        return {c.slug: c.name for c in list_campaigns(session)}


def receipt_document(store: LedgerStore, number: str) -> tuple[str, bytes]:
    """The receipt's file name and PDF."""
    receipt = Receipts(store.app).document(number)
    store.runner.catch_up()
    name = _campaign_names(store).get(receipt.campaign, receipt.campaign)
    return (f"ricevuta-{receipt.number.replace('/', '-')}.pdf",
            receipt_pdf(receipt, Foundation.from_env(), name))


def statement_document(store: LedgerStore, year: int, donor: str) -> tuple[str, bytes]:
    """The annual statement of the donor with this tax code or e-mail (or registry id)."""
    store.runner.catch_up()
    with store.database.reading() as session:
        donor_id = (donor if receipts_view.is_registry_id(session, donor)
                    else receipts_view.find_donor(session, donor))
        gift_ids = receipts_view.donor_gift_ids(session, donor_id, year)
    receipts = Receipts(store.app).in_force(year, [UUID(g) for g in gift_ids])
    if not receipts:
        raise NotFoundError(f"no receipt in force for {donor.strip()} in {year}: "
                            f"issue the year's receipts first")
    details = next((r.donor for r in reversed(receipts) if r.donor is not None), None)
    return (f"riepilogo-{year}-{donor_id[:8]}.pdf",
            statement_pdf(year, details, receipts, Foundation.from_env(), foundation_today()))


def agenzia_export(store: LedgerStore, year: int) -> tuple[str, list[Line]]:
    """The year's AdE file and the lines behind it (for the accountant's CSV)."""
    store.runner.catch_up()
    with store.database.reading() as session:
        lines = agenzia_lines(session, year)
    donors, refunds = file_records(lines)
    foundation = Foundation.from_env()
    text = agenzia_file(year, foundation.tax_code, foundation.name,
                        os.environ.get("LEDGER_FOUNDATION_ENTITY_TYPE") or "onlus",
                        donors, refunds)
    return text, lines


ACCOUNTANT_COLUMNS = ("anno", "tipo", "codice_fiscale", "donatore", "importo",
                      "anno_erogazione", "trasmesso", "motivo_esclusione")


def accountant_csv(year: int, lines: list[Line]) -> str:
    """The same data for Italian Excel: `;`, decimal comma, BOM so accents open right."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(ACCOUNTANT_COLUMNS)
    for line in lines:
        writer.writerow((year, line.kind, line.tax_code, line.name, _comma(line.amount_cents),
                         line.gift_year, "sì" if line.included else "no", line.reason))
    return "\ufeff" + out.getvalue()


def fundraising_documents(store: LedgerStore, slug: str, use_of_funds: str
                          ) -> tuple[bytes, str]:
    """The campaign's rendiconto as PDF and as CSV (Italian Excel)."""
    name = store.app.get_campaign(slug).name
    store.runner.catch_up()
    with store.database.reading() as session:
        report = fundraising_report(session, slug)
    pdf = fundraising_pdf(name, report, use_of_funds, Foundation.from_env(), foundation_today())
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(("sezione", "data", "voce", "distretto", "persone", "importo"))
    for line in report["income"]:
        writer.writerow(("entrata", line["day"], line["stand"], line["district"], line["people"],
                         _comma(line["cents"])))
    for line in report["expenses"]:
        writer.writerow(("spesa", line["on"], line["what"], "", "", _comma(line["cents"])))
    writer.writerow(("risultato netto", "", "", "", "", _comma(report["net_cents"])))
    return pdf, "\ufeff" + out.getvalue()


def _comma(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    euro, rest = divmod(abs(cents), 100)
    return f"{sign}{euro},{rest:02d}"
