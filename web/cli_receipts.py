"""`ledger receipts ...`, the AdE export, campaign expenses and the fundraising report."""

import contextlib
import getpass
import json
from pathlib import Path

import click

from ledger.agenzia import choose_transmission
from ledger.dates import parse_date
from ledger.errors import LedgerError
from ledger.fundraising import record_expense
from ledger.money import format_eur, parse_cents
from ledger.receipts import Receipts
from projections import receipts as receipts_view
from web.cli import _bar, _catch_up, _date_option, err, fails_cleanly, opened_store
from web.mail import SmtpSettings, send_due
from web.mail import follow as follow_outbox
from web.receipts import (
    accountant_csv,
    agenzia_export,
    foundation_today,
    fundraising_documents,
    issue_year,
    receipt_document,
    statement_document,
)

YEAR = click.IntRange(2000, 2999)


def gift_reference(source_key: str) -> str:
    """The CSV `reference` as the foundation wrote it, or the payment's own key."""
    return source_key.removeprefix("csv:")


@click.group("receipts")
def receipts() -> None:
    """Receipts (ricevute): one per identified gift, numbered YYYY/NNNNNN per year."""


@receipts.command("issue")
@click.option("--year", type=YEAR, required=True, help="Receipt the gifts of this year.")
@click.option("--on", "on", help="Date printed on the receipts (default today).")
@fails_cleanly
def receipts_issue(year: int, on: str | None) -> None:
    """Issue a receipt to every identified gift of the year that has none (re-running
    issues nothing twice)."""
    with opened_store() as store, _bar(f"Ricevute {year}") as (bar, task):
        outcome = issue_year(
            store,
            year,
            _date_option(on) or foundation_today(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for key, why in outcome.skipped.items():
        err.print(f"{gift_reference(key)}: {why}", highlight=False, markup=False)
    first_last = f" ({outcome.issued[0]} – {outcome.issued[-1]})" if outcome.issued else ""
    click.echo(
        f"{year}: {len(outcome.issued)} receipts issued{first_last}, "
        f"{outcome.already} already had one, {len(outcome.skipped)} left out"
    )


@receipts.command("list")
@click.option("--year", type=YEAR, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per receipt, as a list.")
@fails_cleanly
def receipts_list(year: int, as_json: bool) -> None:
    """Number, status, gift reference, donor, amount and method of each receipt."""
    with opened_store() as store:
        _catch_up(store)
        with store.database.reading() as session:
            rows = receipts_view.list_receipts(session, year)
    listed = [
        {
            "number": r["number"],
            "status": r["status"],
            "reference": gift_reference(r["source_key"]),
            "donor": r["donor"],
            "tax_code": r["tax_code"],
            "amount_cents": r["amount_cents"],
            "method": r["method"],
            "value_date": r["value_date"],
            "deductibility": r["deductibility"],
            "void_reason": r["void_reason"],
        }
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps(listed, ensure_ascii=False, indent=2))
        return
    for r in listed:
        void = f"\t{r['void_reason']}" if r["status"] == "void" else ""
        click.echo(
            f"{r['number']}\t{r['status']}\t{r['reference']}\t{r['donor'] or '—'}\t"
            f"{format_eur(r['amount_cents'])}\t{r['method']}{void}"
        )


@receipts.command("void")
@click.argument("number")
@click.option("--reason", required=True, help="Why (wrong amount, refund, …): kept with it.")
@fails_cleanly
def receipts_void(number: str, reason: str) -> None:
    """Void a receipt: its number stays, marked void with the reason."""
    with opened_store() as store:
        changed = Receipts(store.app).void(
            number, reason, f"cli:{getpass.getuser()}", foundation_today()
        )
        _catch_up(store)
    click.echo(f"{number.strip()} {'voided' if changed else 'was already void'}")


@receipts.command("pdf")
@click.argument("number")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@fails_cleanly
def receipts_pdf(number: str, out: Path) -> None:
    """Write one receipt as PDF."""
    with opened_store() as store:
        _catch_up(store)
        _name, body = receipt_document(store, number)
    out.write_bytes(body)
    err.print(f"{number.strip()} written to {out}")


@receipts.command("statement")
@click.option("--year", type=YEAR, required=True)
@click.option("--donor", required=True, help="The donor's tax code or e-mail.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@fails_cleanly
def receipts_statement(year: int, donor: str, out: Path) -> None:
    """Write a donor's annual statement (every receipt of the year, and the total) as PDF."""
    with opened_store() as store:
        _catch_up(store)
        _name, body = statement_document(store, year, donor)
    out.write_bytes(body)
    err.print(f"statement {year} written to {out}")


@receipts.command("oppose")
@click.option("--year", type=YEAR, required=True)
@click.option("--donor", required=True, help="The donor's tax code or e-mail.")
@click.option("--how", required=True, help="How the donor asked (e-mail of …, form).")
@click.option("--withdraw", is_flag=True, help="The donor no longer opposes.")
@fails_cleanly
def receipts_oppose(year: int, donor: str, how: str, withdraw: bool) -> None:
    """Record that a donor opposes sending the year's gifts to the Agenzia delle Entrate."""
    with opened_store() as store:
        _catch_up(store)
        with store.database.reading() as session:
            donor_id = receipts_view.find_donor(session, donor)
        changed = choose_transmission(
            store.app, donor_id, year, not withdraw, how, f"cli:{getpass.getuser()}"
        )
        _catch_up(store)
    state = "does not oppose" if withdraw else "opposes"
    click.echo(
        f"{donor.strip()} {state} the {year} transmission" + ("" if changed else " (unchanged)")
    )


def export_agenzia(year: int | None, out: Path | None, accountant: Path | None) -> None:
    """`ledger export agenzia-entrate --year YYYY`: the fixed-width file, and the same data
    as CSV for the accountant; audited like every export of personal data."""
    if year is None:
        raise LedgerError("agenzia-entrate needs --year YYYY")
    with opened_store() as store:
        _catch_up(store)
        text, lines = agenzia_export(store, year)
        store.app.record_audit(
            "export",
            f"cli:{getpass.getuser()}",
            {"kind": "agenzia-entrate", "year": year},
            len(lines),
        )
    if out is not None:
        out.write_bytes(text.encode("ascii"))
        err.print(
            f"{sum(line.included for line in lines)} lines transmitted, "
            f"{sum(not line.included for line in lines)} left out: {out}"
        )
    else:
        click.echo(text, nl=False)
    if accountant is not None:
        accountant.write_text(accountant_csv(year, lines), encoding="utf-8", newline="")


@click.command("expense")
@click.argument("slug")
@click.option("--amount", required=True, help="Euro, e.g. 120 or 1.234,50")
@click.option("--on", "on", required=True, help="Day of the expense (dd/mm/yyyy).")
@click.option("--what", required=True, help="What was paid for (gazebo, leaflets, …).")
@fails_cleanly
def campaigns_expense(slug: str, amount: str, on: str, what: str) -> None:
    """Record an expense of the campaign's fundraising (the same one again changes nothing)."""
    cents = parse_cents(amount)
    with opened_store() as store:
        added = record_expense(
            store.app, slug, cents, parse_date(on), what, f"cli:{getpass.getuser()}"
        )
        _catch_up(store)
    click.echo(
        f"campaign {slug}: expense {format_eur(cents)} "
        + ("recorded" if added else "already recorded")
    )


@click.command("fundraising")
@click.argument("slug")
@click.option("--use", "use_of_funds", default="", help="How the funds are used (for the note).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PDF to write."
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the figures as CSV.",
)
@fails_cleanly
def report_fundraising(slug: str, use_of_funds: str, out: Path, csv_out: Path | None) -> None:
    """The campaign's fundraising report (rendiconto): stand income, expenses, net, note."""
    with opened_store() as store:
        _catch_up(store)
        pdf, table = fundraising_documents(store, slug, use_of_funds)
    out.write_bytes(pdf)
    if csv_out is not None:
        csv_out.write_text(table, encoding="utf-8", newline="")
    err.print(f"rendiconto {slug} written to {out}")


@click.command("mail")
@click.option("--follow", is_flag=True, help="Keep sending until stopped.")
@fails_cleanly
def mail_command(follow: bool) -> None:
    """Send the thank-you e-mails the outbox holds (LEDGER_SMTP_URL, LEDGER_MAIL_FROM)."""
    settings = SmtpSettings.from_env()
    if settings is None:
        raise LedgerError("LEDGER_SMTP_URL is not set: mail stays queued")
    with opened_store(wait=follow) as store:
        counts = send_due(store, settings)
        click.echo(
            f"mail: {counts['sent']} sent, {counts['skipped']} skipped, {counts['failed']} failed"
        )
        if follow:
            with contextlib.suppress(KeyboardInterrupt):
                follow_outbox(store, settings)
