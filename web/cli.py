"""The `ledger` command line: campaigns, imports, reports, projections and users."""

import contextlib
import functools
import getpass
import json
import os
import secrets
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
import psycopg
import stripe
from babel.numbers import format_decimal, format_percent
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ledger.csv_import import ImportReport, import_donations
from ledger.dates import parse_date, today
from ledger.errors import LedgerError
from ledger.money import format_eur, parse_cents
from projections.reports import progress as progress_report
from projections.store import LedgerStore
from web.exports import ExportFilters, audited_export, csv_lines, xlsx_file
from web.stripe_gateway import stripe_client, sync_fees

DEFAULT_DATABASE_URL = "sqlite:///instance/ledger.sqlite3"
DEMO = Path(__file__).parent / "demo" / "year1" / "donations.csv"
DEMO_CAMPAIGNS = (
    ("fare-legami-anno-1", "Fare Legami — anno 1", 0, date(2015, 7, 1), date(2016, 5, 31)),
    ("fare-legami-anni-2-3", "Fare Legami — anni 2 e 3", 33_600_000, date(2016, 7, 1),
     date(2018, 6, 30)),
)

err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def database_url() -> str:
    url = os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return url


@contextmanager
def opened_store(create_tables: bool = True) -> Iterator[LedgerStore]:
    store = LedgerStore.open(database_url(), create_tables=create_tables)
    try:
        yield store
    finally:
        store.close()


def fails_cleanly(command: F) -> F:
    """The one place where errors become a message on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LedgerError as error:
            err.print(f"[bold red]error:[/] {error}", highlight=False)
            sys.exit(1)
        except (psycopg.OperationalError, sqlite3.OperationalError) as error:
            err.print(f"[bold red]error:[/] cannot use the database {database_url()}: {error}",
                      highlight=False)
            sys.exit(3)
        except OSError as error:
            err.print(f"[bold red]error:[/] {error}", highlight=False)
            sys.exit(3)
        except Exception as error:
            if os.environ.get("LEDGER_DEBUG") == "1":
                raise
            err.print(f"[bold red]error:[/] unexpected {type(error).__name__}: {error} "
                      "(run again with LEDGER_DEBUG=1 for the details)", highlight=False)
            sys.exit(70)

    return wrapper  # type: ignore[return-value]


def _date_option(value: str | None) -> date | None:
    return parse_date(value) if value else None


def _catch_up(store: LedgerStore, quiet: bool = False) -> int:
    """Bring every read model up to the events committed before now, with a progress bar."""
    lag = store.runner.lag()
    if lag < 2000 or quiet:
        return store.runner.catch_up()
    with _bar("Aggiornamento dei totali") as (bar, task):
        bar.update(task, total=lag)
        applied = store.runner.catch_up(
            progress=lambda done, _head: bar.update(task, completed=min(done, lag)))
    return applied


@contextmanager
def _bar(label: str) -> Iterator[tuple[Progress, Any]]:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as bar:
        yield bar, bar.add_task(label, total=None)


@click.group()
def main() -> None:
    """Fondo: the donation ledger of the Fondazione Comunitaria della Provincia di Cremona."""


@main.command()
@click.option("--demo", is_flag=True,
              help="On an empty store, add the Fare Legami campaigns and the year-1 donations.")
@fails_cleanly
def init(demo: bool) -> None:
    """Create the tables (run once before starting web workers)."""
    with opened_store() as store:
        empty = not store.app.recorder.max_notification_id()
        if demo and empty:
            for slug, name, target, starts, ends in DEMO_CAMPAIGNS:
                store.app.start_campaign(slug, name, target, starts, ends)
            report = _import(store, DEMO, dry_run=False)
            err.print(f"Dati dimostrativi caricati: {report.new} donazioni dell'anno 1.")
        _catch_up(store)
    click.echo(f"ready: {database_url()}")


@main.group()
def campaigns() -> None:
    """Fundraising campaigns."""


@campaigns.command("add")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--target", required=True, help="Target in euro, e.g. 336000 or 336.000,00")
@click.option("--starts", help="First day (dd/mm/yyyy or yyyy-mm-dd)")
@click.option("--ends", help="Last day (dd/mm/yyyy or yyyy-mm-dd)")
@fails_cleanly
def campaigns_add(slug: str, name: str, target: str, starts: str | None,
                  ends: str | None) -> None:
    """Start a campaign (running it again with the same details changes nothing)."""
    with opened_store() as store:
        store.app.start_campaign(slug, name, parse_cents(target), _date_option(starts),
                                 _date_option(ends))
    click.echo(f"campaign {slug}: target {format_eur(parse_cents(target))}")


@campaigns.command("target")
@click.argument("slug")
@click.argument("target")
@fails_cleanly
def campaigns_target(slug: str, target: str) -> None:
    """Change a campaign's target (in euro); the old target stays in its history."""
    cents = parse_cents(target)
    with opened_store() as store:
        store.app.change_target(slug, cents)
        _catch_up(store)
    click.echo(f"campaign {slug}: target {format_eur(cents)}")


@campaigns.command("end")
@click.argument("slug")
@click.option("--on", "on", help="Last day (default today).")
@fails_cleanly
def campaigns_end(slug: str, on: str | None) -> None:
    """End a campaign: the donation form no longer offers it."""
    with opened_store() as store:
        store.app.end_campaign(slug, _date_option(on) or today())
        _catch_up(store)
    click.echo(f"campaign {slug} ended")


@campaigns.command("list")
@fails_cleanly
def campaigns_list() -> None:
    """List the campaigns."""
    with opened_store() as store:
        _catch_up(store)
        for figures in progress_report(store.database):
            click.echo(f"{figures['campaign']}\t{figures['name']}\t"
                       f"{format_eur(figures['target_cents'])}")


@main.group("import")
def import_group() -> None:
    """Bring data in from files."""


def _import(store: LedgerStore, path: Path, dry_run: bool) -> ImportReport:
    with path.open("rb") as counting:
        lines = sum(1 for _ in counting)
    with _bar("Verifica" if dry_run else "Importazione") as (bar, task):
        bar.update(task, total=max(lines - 1, 0) * (1 if dry_run else 2))
        seen = [0]

        def tick(_line: int) -> None:
            seen[0] += 1
            bar.update(task, completed=seen[0])

        report = import_donations(store.app, path, dry_run=dry_run, on_row=tick)
    return report


@import_group.command("donations")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@fails_cleanly
def import_donations_command(file: Path, dry_run: bool) -> None:
    """Import a donations CSV: all rows or none; importing it again changes nothing."""
    if not file.is_file():
        raise LedgerError(f"no such file: {file}")
    with opened_store() as store:
        report = _import(store, file, dry_run)
        if report.errors:
            for problem in report.errors:
                err.print(f"{file}:{problem.line}: {problem.message}", highlight=False,
                          markup=False)
            raise LedgerError(
                f"{len(report.errors)} bad line(s) out of {report.rows}: nothing was imported")
        if report.written:
            _catch_up(store)
    verb = "would add" if dry_run else "added"
    click.echo(f"{report.rows} rows: {verb} {report.new} gifts "
               f"({format_eur(report.raised_cents)}), {report.already_recorded} already recorded")


def _text_report(figures: dict[str, Any]) -> str:
    def number(value: int) -> str:
        return format_decimal(value, locale="it_IT")

    progress = (format_percent(figures["progress"], "#,##0.0%", locale="it_IT")
                if figures["progress"] is not None else "—")
    return "\n".join([
        f"{figures['name']} ({figures['campaign']})",
        f"  Raccolto      {format_eur(figures['raised_cents'])} " + (
            f"su {format_eur(figures['target_cents'])} ({progress})"
            if figures["target_cents"] else "(nessun obiettivo)"),
        f"  Donatori      {number(figures['donors'])} "
        f"({number(figures['contacts'])} in anagrafica, "
        f"{number(figures['anonymous_people'])} anonimi)",
        f"  Donazioni     {number(figures['gifts'])}",
        f"  Rimborsi      {format_eur(figures['refunded_cents'] + figures['disputed_cents'])}",
        f"  Commissioni   {format_eur(figures['fees_cents'])}",
        f"  Netto         {format_eur(figures['net_cents'])}",
        f"  Alla data     {date.fromisoformat(figures['as_of']).strftime('%d/%m/%Y')}",
    ])


@main.group()
def report() -> None:
    """Reports on the campaigns."""


@report.command("progress")
@click.option("--campaign", "slug", help="Only this campaign (its slug).")
@click.option("--as-of", "as_of", help="Count gifts with a value date up to this day.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per campaign, as a list.")
@fails_cleanly
def report_progress(slug: str | None, as_of: str | None, as_json: bool) -> None:
    """Raised against target, donors, contacts and gifts per campaign."""
    with opened_store() as store:
        _catch_up(store)
        figures = progress_report(store.database, slug, _date_option(as_of))
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False, indent=2))
    elif not figures:
        click.echo("Nessuna campagna.")
    else:
        click.echo("\n\n".join(_text_report(f) for f in figures))


@main.command()
@click.option("--follow", is_flag=True, help="Keep following new events until stopped.")
@fails_cleanly
def project(follow: bool) -> None:
    """Run the projections: catch up once, or keep following."""
    with opened_store() as store:
        applied = _catch_up(store)
        click.echo(f"caught up: {applied} events applied")
        if follow:
            with contextlib.suppress(KeyboardInterrupt):
                store.runner.follow()


@main.command()
@fails_cleanly
def rebuild() -> None:
    """Rebuild every read model from the events."""
    with opened_store() as store, _bar("Ricostruzione") as (bar, task):
        bar.update(task, total=store.app.recorder.max_notification_id() or 0)
        applied = store.runner.rebuild(
            progress=lambda done, _head: bar.update(task, completed=done))
    click.echo(f"rebuilt: {applied} events applied")


@main.group()
def users() -> None:
    """People who sign in: admin, staff and volunteers."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "staff", "volunteer"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@fails_cleanly
def users_add(email: str, role: str, password_stdin: bool) -> None:
    """Add a user; prints a one-time password unless one comes on stdin."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    with opened_store() as store:
        user = store.app.add_user(email, role, password)
    click.echo(f"user {user.email} ({user.role}) added")
    if not password_stdin:
        click.echo(f"one-time password: {password}")


@users.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@fails_cleanly
def users_password(email: str, password_stdin: bool) -> None:
    """Set a new password; prints a one-time password unless one comes on stdin."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    with opened_store() as store:
        store.app.set_password(email, password)
    click.echo(f"password of {email.strip().lower()} changed")
    if not password_stdin:
        click.echo(f"one-time password: {password}")


@users.command("deactivate")
@click.argument("email")
@fails_cleanly
def users_deactivate(email: str) -> None:
    """Stop a user signing in or using tokens (the history stays)."""
    with opened_store() as store:
        store.app.deactivate_user(email)
    click.echo(f"user {email.strip().lower()} deactivated")


@users.command("token")
@click.argument("email")
@fails_cleanly
def users_token(email: str) -> None:
    """Print a new personal API token for EMAIL (only its hash is kept)."""
    with opened_store() as store:
        click.echo(store.app.issue_token(email))


@main.command("export")
@click.argument("kind", type=click.Choice(["donors", "donations"]))
@click.option("--campaign", help="Only gifts to this campaign (its slug).")
@click.option("--from", "date_from", help="Only gifts from this value date.")
@click.option("--to", "date_to", help="Only gifts up to this value date.")
@click.option("--marketing-only", is_flag=True, help="Only donors who want news.")
@click.option("--with-tax-code", is_flag=True, help="Only donors with a tax code.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (CSV goes to standard output without it).")
@fails_cleanly
def export_command(kind: str, campaign: str | None, date_from: str | None, date_to: str | None,
                   marketing_only: bool, with_tax_code: bool, fmt: str,
                   out: Path | None) -> None:
    """Export donors or donations (CSV for Italian Excel, or XLSX); every export is audited."""
    if fmt == "xlsx" and out is None:
        raise LedgerError("an XLSX export needs --out FILE")
    filters = ExportFilters(campaign, _date_option(date_from), _date_option(date_to),
                            marketing_only, with_tax_code)
    with opened_store() as store:
        _catch_up(store)
        if campaign:
            store.app.get_campaign(campaign)
        plan = audited_export(store, kind, fmt, filters, f"cli:{getpass.getuser()}")
        lines = csv_lines(store.database, plan.sql, plan.params, plan.columns)
        if fmt == "xlsx" and out is not None:
            with (xlsx_file(store.database, plan.sql, plan.params, plan.columns) as workbook,
                  out.open("wb") as target):
                shutil.copyfileobj(workbook, target)
        elif out is not None:
            with out.open("w", encoding="utf-8", newline="") as target:
                target.writelines(lines)
        else:
            for line in lines:
                click.echo(line, nl=False)
    if out is not None:
        err.print(f"{plan.rows} rows written to {out}")


@main.group("stripe")
def stripe_group() -> None:
    """Stripe: processing fees."""


@stripe_group.command("sync-fees")
@fails_cleanly
def sync_fees_command() -> None:
    """Fetch the fee of every confirmed Stripe gift that has none yet."""
    secret = os.environ.get("STRIPE_SECRET_KEY")
    if not secret:
        raise LedgerError("STRIPE_SECRET_KEY is not set")
    client = stripe_client(secret, os.environ.get("STRIPE_API_BASE"))
    with opened_store() as store:
        _catch_up(store)
        with store.database.reading() as session:
            keys = [row[0] for row in session.query(
                "SELECT source_key FROM gifts_view WHERE source_key LIKE ? "
                "AND status = 'confirmed' AND fees_cents = 0 ORDER BY value_date",
                ("stripe:%",))]
        with _bar("Commissioni Stripe") as (bar, task):
            bar.update(task, total=len(keys))
            try:
                recorded = sync_fees(store.app, client, keys,
                                     on_each=lambda _key, _fee: bar.advance(task))
            except stripe.StripeError as error:
                raise LedgerError(f"Stripe did not answer as expected: {error}") from error
        _catch_up(store)
    click.echo(f"{len(keys)} payments checked, {recorded} fees recorded")

if __name__ == "__main__":
    main()
