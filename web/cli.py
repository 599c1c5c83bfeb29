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
import time
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
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ledger.bounds import check_text
from ledger.csv_import import ImportReport, import_donations
from ledger.dates import parse_date, today
from ledger.errors import LedgerError
from ledger.money import format_eur, parse_cents
from ledger.user import TOKEN_DAYS
from projections.database import TRANSIENT_ERRORS
from projections.exports import ExportFilters
from projections.reports import progress as progress_report
from projections.runner import ReadModelStalledError, Stall
from projections.store import LedgerStore
from projections.totals import stripe_gifts_without_fee
from vault.backup import back_up
from vault.backup import restore as restore_backup
from web import default_database_url, instance_path
from web.exports import audited_export, csv_lines, xlsx_file
from web.stripe_gateway import stripe_client, sync_fees

DEMO = Path(__file__).parent / "demo" / "year1" / "donations.csv"
DEMO_CAMPAIGNS = (
    ("fare-legami-anno-1", "Fare Legami — anno 1", 0, date(2015, 7, 1), date(2016, 5, 31)),
    (
        "fare-legami-anni-2-3",
        "Fare Legami — anni 2 e 3",
        33_600_000,
        date(2016, 7, 1),
        date(2018, 6, 30),
    ),
)

# Soft wrap: a message naming FILE:LINE stays one line, whatever the width (terminals wrap).
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


def database_url() -> str:
    """LEDGER_DATABASE_URL, or the store `./scripts/serve` and create_app use by default."""
    return os.environ.get("LEDGER_DATABASE_URL") or default_database_url(instance_path())


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url[len("sqlite:///") :])
    return None


@contextmanager
def opened_store(
    create_tables: bool = True, new: bool = False, wait: bool = False
) -> Iterator[LedgerStore]:
    """The ledger's store; only `new` (ledger init) may create a SQLite file that is missing,
    so a command run with the wrong settings never starts an empty ledger of its own. With
    `wait` (the `--follow` commands) a database unavailable as the command starts (a restart,
    a cut connection) is waited for, as their loops wait for it once they run."""
    url = database_url()
    path = _sqlite_path(url)
    if path is not None:
        if new:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise LedgerError(
                f"no ledger at {path.resolve()}: run `ledger init` to create it, "
                "or set LEDGER_DATABASE_URL to the ledger you mean"
            )
    while True:
        try:
            store = LedgerStore.open(url, create_tables=create_tables)
            break
        except TRANSIENT_ERRORS as error:
            if not wait:
                raise
            err.print(f"database unavailable, retrying: {error}", highlight=False, markup=False)
            time.sleep(1.0)
    try:
        yield store
    finally:
        store.close()


def fails_cleanly(command: F) -> F:
    """The one place where errors become a message on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            # Arguments are text from outside like any other: no control characters in them.
            for name, value in kwargs.items():
                if isinstance(value, str):
                    check_text(f"--{name.replace('_', '-')}", value, multiline=True)
            return command(*args, **kwargs)
        except LedgerError as error:
            err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
            sys.exit(1)
        except (psycopg.OperationalError, sqlite3.OperationalError) as error:
            err.print(
                f"[bold red]error:[/] cannot use the database {database_url()}: {error}",
                highlight=False,
            )
            sys.exit(3)
        except BrokenPipeError:
            # The reader went away (`ledger receipts list | head`): stop as Unix tools do,
            # without a message, and keep Python from reporting the unflushed rest at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except OSError as error:
            err.print(f"[bold red]error:[/] {error}", highlight=False)
            sys.exit(3)
        except Exception as error:
            if os.environ.get("LEDGER_DEBUG") == "1":
                raise
            err.print(
                f"[bold red]error:[/] unexpected {type(error).__name__}: {error} "
                "(run again with LEDGER_DEBUG=1 for the details)",
                highlight=False,
            )
            sys.exit(70)

    return wrapper  # type: ignore[return-value]


def _date_option(value: str | None) -> date | None:
    return parse_date(value) if value else None


def _catch_up(
    store: LedgerStore, quiet: bool = False, figures: bool = False, retry_stalled: bool = False
) -> int:
    """Bring every read model up to the events committed before now, with a progress bar.

    A read model stopped at an event it cannot apply is reported on stderr; a command that
    prints `figures` from it fails instead, since they would be incomplete."""
    lag = store.runner.lag()
    if lag < 2000 or quiet:
        applied = store.runner.catch_up(retry_stalled=retry_stalled)
    else:
        with _bar("Aggiornamento dei totali") as (bar, task):
            bar.update(task, total=lag)
            applied = store.runner.catch_up(
                progress=lambda done, _head: bar.update(task, completed=min(done, lag)),
                retry_stalled=retry_stalled,
            )
    stalls = store.runner.stalls()
    if stalls and figures:
        raise ReadModelStalledError(stalls)
    for stall in stalls:
        _report_stall(stall)
    return applied


def _report_stall(stall: Stall) -> None:
    err.print(
        f"attention: {stall} (since {stall.since}); if the event was accepted by "
        f"mistake: ledger events set-aside {stall.position} --reason TEXT",
        style="bold red",
        highlight=False,
        markup=False,
    )


@contextmanager
def _bar(label: str) -> Iterator[tuple[Progress, Any]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        yield bar, bar.add_task(label, total=None)


@click.group()
def main() -> None:
    """Fondo: the donation ledger of the Fondazione Comunitaria della Provincia di Cremona."""


@main.command()
@click.option(
    "--demo",
    is_flag=True,
    help="On an empty store, add the Fare Legami campaigns and the year-1 donations.",
)
@fails_cleanly
def init(demo: bool) -> None:
    """Create the tables (run once before starting web workers)."""
    with opened_store(new=True) as store:
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
def campaigns_add(slug: str, name: str, target: str, starts: str | None, ends: str | None) -> None:
    """Start a campaign (running it again with the same details changes nothing)."""
    with opened_store() as store:
        store.app.start_campaign(
            slug, name, parse_cents(target), _date_option(starts), _date_option(ends)
        )
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
        _catch_up(store, figures=True)
        for figures in progress_report(store.database):
            click.echo(
                f"{figures['campaign']}\t{figures['name']}\t{format_eur(figures['target_cents'])}"
            )


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
                err.print(
                    f"{file}:{problem.line}: {problem.message}", highlight=False, markup=False
                )
            raise LedgerError(
                f"{len(report.errors)} bad line(s) out of {report.rows}: nothing was imported"
            )
        if report.written:
            _catch_up(store)
    verb = "would add" if dry_run else "added"
    click.echo(
        f"{report.rows} rows: {verb} {report.new} gifts "
        f"({format_eur(report.raised_cents)}), {report.already_recorded} already recorded"
        + (f", {verb} {report.oppositions} AdE opposition(s)" if report.oppositions else "")
    )


def _text_report(figures: dict[str, Any]) -> str:
    def number(value: int) -> str:
        return format_decimal(value, locale="it_IT")

    progress = (
        format_percent(figures["progress"], "#,##0.0%", locale="it_IT")
        if figures["progress"] is not None
        else "—"
    )
    return "\n".join(
        [
            f"{figures['name']} ({figures['campaign']})",
            f"  Raccolto      {format_eur(figures['raised_cents'])} "
            + (
                f"su {format_eur(figures['target_cents'])} ({progress})"
                if figures["target_cents"]
                else "(nessun obiettivo)"
            ),
            f"  Donatori      {number(figures['donors'])} "
            f"({number(figures['contacts'])} in anagrafica, "
            f"{number(figures['anonymous_people'])} anonimi)",
            f"  Donazioni     {number(figures['gifts'])}",
            f"  Rimborsi      {format_eur(figures['refunded_cents'] + figures['disputed_cents'])}",
            f"  Commissioni   {format_eur(figures['fees_cents'])}",
            f"  Netto         {format_eur(figures['net_cents'])}",
            f"  Alla data     {date.fromisoformat(figures['as_of']).strftime('%d/%m/%Y')}",
        ]
    )


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
        _catch_up(store, figures=True)
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
    """Run the projections: catch up once, or keep following.

    A read model that meets an event it cannot apply stops there: once, the command exits
    non-zero with the event's position and the reason; following, it is reported on stderr
    and the other read models go on."""
    with opened_store(wait=follow) as store:
        try:
            applied = _catch_up(store, figures=not follow, retry_stalled=True)
            click.echo(f"caught up: {applied} events applied")
        except TRANSIENT_ERRORS:
            if not follow:
                raise
            # A follower outlives a database hiccup: it resumes from the committed positions.
        if follow:
            with contextlib.suppress(KeyboardInterrupt):
                store.runner.follow(on_stall=_report_stall)


@main.command()
@click.option("--follow", is_flag=True, help="Keep applying new deliveries until stopped.")
@click.option(
    "--retry-failed",
    "retry",
    is_flag=True,
    help="First put the deliveries that failed back in line (once their cause is fixed).",
)
@click.option("--event", "event_id", help="With --retry-failed: only this Stripe event id.")
@fails_cleanly
def inbox(follow: bool, retry: bool, event_id: str | None) -> None:
    """Apply the Stripe deliveries kept by the webhook: once, or keep following.

    A delivery that cannot be applied is set apart with its reason (listed here, in /healthz
    and in the back office) and the others go on; exits 1 when any is set apart."""
    from web.inbox import InboxProcessor

    with opened_store(wait=follow) as store:
        if retry:
            click.echo(f"{store.inbox.retry_failed(event_id)} deliveries back in line")
        processor = InboxProcessor(store, os.environ.get("LEDGER_DEFAULT_CAMPAIGN"))
        if follow:
            with contextlib.suppress(KeyboardInterrupt):
                processor.follow()
            return
        click.echo(f"inbox: {processor.drain()} deliveries processed")
        state = store.inbox.state()
        for failure in store.inbox.failures():
            err.print(
                f"failed: {failure.event_id} ({failure.event_type}): {failure.reason}",
                highlight=False,
                markup=False,
            )
        if state.pending:
            click.echo(f"{state.pending} deliveries wait to be tried again")
        if state.failed:
            raise LedgerError(
                f"{state.failed} deliveries cannot be applied; once fixed: "
                "ledger inbox --retry-failed"
            )


@main.command()
@fails_cleanly
def rebuild() -> None:
    """Rebuild every read model from the events."""
    with opened_store() as store, _bar("Ricostruzione") as (bar, task):
        bar.update(task, total=store.app.recorder.max_notification_id() or 0)
        applied = store.runner.rebuild(
            progress=lambda done, _head: bar.update(task, completed=done)
        )
    click.echo(f"rebuilt: {applied} events applied")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@fails_cleanly
def backup(file: Path) -> None:
    """Copy the events and the personal-data keys, as they stand now, into FILE."""
    with opened_store() as store:
        summary = back_up(store, file)
    click.echo(
        f"backup {file}: {summary.events} events, {summary.keys} keys, "
        f"{summary.deliveries} Stripe deliveries"
    )


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@fails_cleanly
def restore(file: Path) -> None:
    """Restore a backup FILE into an empty database and rebuild the read models."""
    with opened_store(new=True) as store, _bar("Ripristino") as (bar, task):
        summary = restore_backup(
            store, file, progress=lambda done, head: bar.update(task, completed=done, total=head)
        )
    click.echo(
        f"restored {file}: {summary.events} events, {summary.keys} keys, "
        f"{summary.deliveries} Stripe deliveries"
    )


@main.group()
def events() -> None:
    """The event store: set aside an event the read models cannot apply."""


@events.command("set-aside")
@click.argument("position", type=int)
@click.option("--reason", required=True, help="Why (kept with the event that sets it aside).")
@fails_cleanly
def events_set_aside(position: int, reason: str) -> None:
    """Tell every read model to skip the event at POSITION (as printed by `ledger project`).

    The event stays in the store as it was; a new event records who set it aside and why."""
    with opened_store() as store:
        stalled = {stall.position for stall in store.runner.stalls()}
        if position not in stalled:
            raise LedgerError(
                f"no read model is stopped at event {position} (stopped at: "
                f"{', '.join(map(str, sorted(stalled))) or 'none'}); only an "
                "event a read model cannot apply is set aside"
            )
        added = store.app.set_aside_event(position, reason, f"cli:{getpass.getuser()}")
        _catch_up(store, figures=True, retry_stalled=True)
    click.echo(
        f"event {position} set aside" if added else f"event {position} was already set aside"
    )


@main.group()
def users() -> None:
    """People who sign in: admin, staff and volunteers."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "staff", "volunteer"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@fails_cleanly
def users_add(email: str, role: str, password_stdin: bool) -> None:
    """Add a user; prints a one-time password unless one comes on stdin.

    A one-time password opens only the page where the user chooses their own at the first
    sign-in: whoever saw it printed (or the terminal's scroll-back) cannot use it later."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    with opened_store() as store:
        user = store.app.add_user(email, role, password, one_time=not password_stdin)
    click.echo(f"user {user.email} ({user.role}) added")
    if not password_stdin:
        _print_one_time(password)


@users.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@fails_cleanly
def users_password(email: str, password_stdin: bool) -> None:
    """Set a new password; prints a one-time password unless one comes on stdin (see `users
    add`). Either way every session of the old password ends."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    with opened_store() as store:
        store.app.set_password(email, password, one_time=not password_stdin)
    click.echo(f"password of {email.strip().lower()} changed")
    if not password_stdin:
        _print_one_time(password)


def _print_one_time(password: str) -> None:
    click.echo(f"one-time password: {password}")
    click.echo(
        "it opens only the page where the user chooses their own password at the first "
        "sign-in; until then their API tokens are refused too"
    )


@users.command("deactivate")
@click.argument("email")
@fails_cleanly
def users_deactivate(email: str) -> None:
    """Stop a user signing in or using tokens (the history stays)."""
    with opened_store() as store:
        store.app.deactivate_user(email)
    click.echo(f"user {email.strip().lower()} deactivated")


def _token_days() -> int:
    text = os.environ.get("LEDGER_TOKEN_DAYS") or str(TOKEN_DAYS)
    if not text.isdigit() or int(text) < 1:
        raise LedgerError(f"LEDGER_TOKEN_DAYS must be a whole number of days, not {text!r}")
    return int(text)


@users.command("token")
@click.argument("email")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Days it stays valid (default LEDGER_TOKEN_DAYS, else 90).",
)
@fails_cleanly
def users_token(email: str, days: int | None) -> None:
    """Print a new personal API token for EMAIL: shown this once, only its hash is kept."""
    with opened_store() as store:
        token = store.app.issue_token(email, days or _token_days())
        listed = {t.reference: t for t in store.app.user_tokens(email)}
    reference = token.partition(".")[0]
    click.echo(token)
    err.print(
        f"id {reference}, valid until {listed[reference].expires_at:%d/%m/%Y %H:%M} UTC; "
        "it opens the JSON API only and is not shown again",
        highlight=False,
    )


@users.command("tokens")
@click.argument("email")
@fails_cleanly
def users_tokens(email: str) -> None:
    """List EMAIL's API tokens: id, issued, expires, state (never the secret)."""
    with opened_store() as store:
        tokens = store.app.user_tokens(email)
    for token in tokens:
        click.echo(
            f"{token.reference}\t{token.issued_at:%Y-%m-%d %H:%M}\t"
            f"{token.expires_at:%Y-%m-%d %H:%M}\t{token.state}"
        )
    if not tokens:
        err.print(f"{email.strip().lower()} has no tokens", highlight=False)


@users.command("revoke-token")
@click.argument("token")
@fails_cleanly
def users_revoke_token(token: str) -> None:
    """Revoke a token, named by its id (from `users tokens`) or given whole."""
    with opened_store() as store:
        revoked = store.app.revoke_token(token)
    reference = token.strip().partition(".")[0]
    click.echo(
        f"token {reference} revoked" if revoked else f"token {reference} was already revoked"
    )


@main.command("export")
@click.argument("kind", type=click.Choice(["donors", "donations", "agenzia-entrate"]))
@click.option("--year", type=int, help="agenzia-entrate: the year of the gifts.")
@click.option(
    "--accountant-csv",
    type=click.Path(dir_okay=False, path_type=Path),
    help="agenzia-entrate: also write the same data as CSV for the accountant.",
)
@click.option("--campaign", help="Only gifts to this campaign (its slug).")
@click.option("--from", "date_from", help="Only gifts from this value date.")
@click.option("--to", "date_to", help="Only gifts up to this value date.")
@click.option("--marketing-only", is_flag=True, help="Only donors who want news.")
@click.option("--with-tax-code", is_flag=True, help="Only donors with a tax code.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (CSV goes to standard output without it).",
)
@fails_cleanly
def export_command(
    kind: str,
    year: int | None,
    accountant_csv: Path | None,
    campaign: str | None,
    date_from: str | None,
    date_to: str | None,
    marketing_only: bool,
    with_tax_code: bool,
    fmt: str,
    out: Path | None,
) -> None:
    """Export donors or donations (CSV for Italian Excel, or XLSX), or the year's file for
    the Agenzia delle Entrate; every export is audited."""
    if kind == "agenzia-entrate":
        export_agenzia(year, out, accountant_csv)
        return
    if fmt == "xlsx" and out is None:
        raise LedgerError("an XLSX export needs --out FILE")
    filters = ExportFilters(
        campaign, _date_option(date_from), _date_option(date_to), marketing_only, with_tax_code
    )
    with opened_store() as store:
        _catch_up(store, figures=True)
        if campaign:
            store.app.get_campaign(campaign)
        plan = audited_export(store, kind, fmt, filters, f"cli:{getpass.getuser()}")
        lines = csv_lines(store.database, plan.sql, plan.params, plan.columns)
        if fmt == "xlsx" and out is not None:
            with (
                xlsx_file(store.database, plan.sql, plan.params, plan.columns) as workbook,
                out.open("wb") as target,
            ):
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
            keys = stripe_gifts_without_fee(session)
        with _bar("Commissioni Stripe") as (bar, task):
            bar.update(task, total=len(keys))
            try:
                recorded = sync_fees(
                    store.app, client, keys, on_each=lambda _key, _fee: bar.advance(task)
                )
            except stripe.StripeError as error:
                raise LedgerError(f"Stripe did not answer as expected: {error}") from error
        _catch_up(store)
    click.echo(f"{len(keys)} payments checked, {recorded} fees recorded")


if __name__ == "__main__":
    # `python -m web.cli`: run the importable module, the one every group is added to.
    import web.cli

    web.cli.main()
else:
    # Groups defined in modules of their own, which use the helpers above.
    from web.cli_receipts import (
        campaigns_expense,
        export_agenzia,
        mail_command,
        receipts,
        report_fundraising,
    )

    main.add_command(receipts)
    main.add_command(mail_command)
    campaigns.add_command(campaigns_expense)
    report.add_command(report_fundraising)
