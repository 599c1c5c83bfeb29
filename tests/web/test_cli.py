"""The `ledger` command line: contracts of DESIGN.md, clear errors, no tracebacks."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInputError
from ledger.user import user_email
from projections.audit import audit_entries
from projections.reports import list_campaigns
from projections.store import LedgerStore
from tests.helpers import ROOT, YEAR1_CSV, add_campaigns, row, write_csv
from web.cli import database_url, main


def test_import_then_report_json_has_the_design_keys(cli: CliRunner) -> None:
    add_campaigns(cli)
    imported = cli.invoke(main, ["import", "donations", YEAR1_CSV])
    assert imported.exit_code == 0, imported.output
    assert "added 520 gifts" in imported.output and "€ 42.708,00" in imported.output
    result = cli.invoke(main, ["report", "progress", "--campaign", "fare-legami-anno-1", "--json"])
    assert result.exit_code == 0
    [figures] = json.loads(result.output)
    keys = {
        "campaign",
        "name",
        "target_cents",
        "raised_cents",
        "refunded_cents",
        "fees_cents",
        "net_cents",
        "donors",
        "gifts",
        "contacts",
        "progress",
        "as_of",
    }
    assert keys <= figures.keys()
    assert (figures["raised_cents"], figures["donors"], figures["contacts"]) == (4270800, 2289, 324)


def test_text_report_is_italian(cli: CliRunner) -> None:
    add_campaigns(cli)
    cli.invoke(main, ["import", "donations", YEAR1_CSV])
    result = cli.invoke(main, ["report", "progress"])
    assert result.exit_code == 0
    assert "€ 42.708,00" in result.output and "2.289" in result.output
    assert "€ 336.000,00" in result.output


def test_as_of_accepts_italian_dates(cli: CliRunner) -> None:
    add_campaigns(cli)
    cli.invoke(main, ["import", "donations", YEAR1_CSV])
    result = cli.invoke(
        main,
        [
            "report",
            "progress",
            "--campaign",
            "fare-legami-anno-1",
            "--as-of",
            "30/06/2015",
            "--json",
        ],
    )
    assert json.loads(result.output)[0]["raised_cents"] == 0


def test_bad_file_exits_non_zero_with_line_numbers_and_writes_nothing(
    cli: CliRunner, tmp_path: Path
) -> None:
    add_campaigns(cli)
    path = write_csv(
        tmp_path,
        row(reference="a"),
        row(amount="zero", reference="b"),
        row(channel="pigeon", reference="c"),
    )
    result = cli.invoke(main, ["import", "donations", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:" in result.stderr and f"{path}:4:" in result.stderr
    assert "nothing was imported" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    report = json.loads(
        cli.invoke(
            main, ["report", "progress", "--campaign", "fare-legami-anni-2-3", "--json"]
        ).output
    )
    assert report[0]["gifts"] == 0


def test_dry_run_says_what_would_happen(cli: CliRunner) -> None:
    add_campaigns(cli)
    result = cli.invoke(main, ["import", "donations", YEAR1_CSV, "--dry-run"])
    assert result.exit_code == 0 and "would add 520 gifts" in result.output
    report = json.loads(cli.invoke(main, ["report", "progress", "--json"]).output)
    assert sum(c["gifts"] for c in report) == 0


def test_user_errors_are_messages_not_tracebacks(cli: CliRunner, tmp_path: Path) -> None:
    add_campaigns(cli)
    cases = [
        ["report", "progress", "--campaign", "nope"],
        ["report", "progress", "--as-of", "ieri"],
        ["import", "donations", str(tmp_path / "missing.csv")],
        ["campaigns", "add", "Bad Slug", "--name", "x", "--target", "10"],
        ["campaigns", "add", "x", "--name", "x", "--target", "dieci"],
        ["users", "token", "nobody@example.org"],
    ]
    for args in cases:
        result = cli.invoke(main, args)
        assert result.exit_code != 0, args
        assert result.stderr.startswith("error:"), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_unusable_database_url_is_a_clear_error() -> None:
    result = CliRunner(env={"LEDGER_DATABASE_URL": "mysql://x"}).invoke(
        main, ["report", "progress"]
    )
    assert result.exit_code != 0 and "sqlite:///" in result.stderr


def test_users_add_prints_a_one_time_password_and_token(cli: CliRunner) -> None:
    added = cli.invoke(main, ["users", "add", "Anna@Example.org", "--role", "staff"])
    assert added.exit_code == 0 and "one-time password:" in added.output
    again = cli.invoke(main, ["users", "add", "anna@example.org", "--role", "staff"])
    assert again.exit_code == 1 and "already exists" in again.stderr
    token = cli.invoke(main, ["users", "token", "anna@example.org"])
    assert token.exit_code == 0 and token.output.startswith("fondo_")


def test_password_from_stdin(cli: CliRunner) -> None:
    short = cli.invoke(
        main,
        ["users", "add", "v@example.org", "--role", "volunteer", "--password-stdin"],
        input="corta\n",
    )
    assert short.exit_code == 1 and "at least" in short.stderr
    ok = cli.invoke(
        main,
        ["users", "add", "v@example.org", "--role", "volunteer", "--password-stdin"],
        input="una-password-lunga\n",
    )
    assert ok.exit_code == 0 and "one-time" not in ok.output


def test_project_and_rebuild_report_counts(cli: CliRunner) -> None:
    add_campaigns(cli)
    cli.invoke(main, ["import", "donations", YEAR1_CSV])
    assert cli.invoke(main, ["project"]).output.startswith("caught up: 0")
    rebuilt = cli.invoke(main, ["rebuild"])
    assert rebuilt.exit_code == 0 and "rebuilt:" in rebuilt.output
    report = json.loads(
        cli.invoke(
            main, ["report", "progress", "--campaign", "fare-legami-anno-1", "--json"]
        ).output
    )
    assert report[0]["contacts"] == 324


def test_init_demo_loads_year1_once(cli: CliRunner) -> None:
    assert cli.invoke(main, ["init", "--demo"]).exit_code == 0
    assert cli.invoke(main, ["init", "--demo"]).exit_code == 0
    report = json.loads(cli.invoke(main, ["report", "progress", "--json"]).output)
    by_slug = {c["campaign"]: c for c in report}
    assert by_slug["fare-legami-anno-1"]["donors"] == 2289
    assert by_slug["fare-legami-anni-2-3"]["target_cents"] == 33_600_000


def test_export_donors_to_a_file_is_audited(cli: CliRunner, tmp_path: Path, store_url: str) -> None:
    add_campaigns(cli)
    cli.invoke(main, ["import", "donations", YEAR1_CSV])
    out = tmp_path / "donatori.csv"
    result = cli.invoke(
        main, ["export", "donors", "--campaign", "fare-legami-anno-1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 324 + 1 and lines[0].startswith('"ID donatore";"Nome"')
    assert "324 rows written" in result.stderr
    xlsx = cli.invoke(main, ["export", "donations", "--format", "xlsx"])
    assert xlsx.exit_code == 1 and "--out" in xlsx.stderr
    unknown = cli.invoke(main, ["export", "donors", "--campaign", "nope"])
    assert unknown.exit_code == 1 and "nope" in unknown.stderr
    ledger_store = LedgerStore.open(store_url)
    ledger_store.runner.catch_up()
    with ledger_store.database.reading() as session:
        [entry] = audit_entries(session)
    ledger_store.close()
    assert (entry["action"], entry["rows_count"]) == ("export_donors_csv", 324)
    assert entry["who"].startswith("cli:") and entry["details"]["campaign"] == "fare-legami-anno-1"


def test_ended_campaign_and_deactivated_user(cli: CliRunner, store_url: str) -> None:
    add_campaigns(cli)
    assert (
        cli.invoke(main, ["campaigns", "end", "fare-legami-anno-1", "--on", "31/05/2016"]).exit_code
        == 0
    )
    assert (
        cli.invoke(main, ["campaigns", "target", "fare-legami-anni-2-3", "400.000"]).exit_code == 0
    )
    report = json.loads(
        cli.invoke(
            main, ["report", "progress", "--campaign", "fare-legami-anni-2-3", "--json"]
        ).output
    )
    assert report[0]["target_cents"] == 40_000_000
    negative = cli.invoke(main, ["campaigns", "target", "fare-legami-anni-2-3", "--", "-5"])
    assert negative.exit_code == 1 and "negative" in negative.stderr
    cli.invoke(
        main,
        ["users", "add", "v@example.org", "--role", "volunteer", "--password-stdin"],
        input="una-password-lunga\n",
    )
    token = cli.invoke(main, ["users", "token", "v@example.org"]).output.strip()
    changed = cli.invoke(
        main,
        ["users", "password", "v@example.org", "--password-stdin"],
        input="un-altra-password\n",
    )
    assert changed.exit_code == 0
    assert cli.invoke(main, ["users", "deactivate", "v@example.org"]).exit_code == 0
    ledger_store = LedgerStore.open(store_url)
    ledger_store.runner.catch_up()
    assert ledger_store.app.authenticate("v@example.org", "un-altra-password") is None
    assert ledger_store.app.user_for_token(token) is None
    with ledger_store.database.reading() as session:
        ended = {c.slug: c.ended_on for c in list_campaigns(session)}
    ledger_store.close()
    assert ended == {"fare-legami-anno-1": "2016-05-31", "fare-legami-anni-2-3": None}


def test_default_store_is_the_served_one_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ./scripts/serve runs from the project root with sqlite:///$PWD/instance/ledger.sqlite3.
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    served = f"sqlite:///{ROOT / 'instance' / 'ledger.sqlite3'}"
    for folder in (tmp_path, ROOT, ROOT / "web"):
        monkeypatch.chdir(folder)
        assert database_url() == served


@pytest.mark.slow
def test_a_missing_store_is_an_error_except_for_init(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = tmp_path / "nowhere" / "ledger.sqlite3"
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{missing}"}

    def ledger(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "web.cli", *args],
            cwd=elsewhere,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )

    for args in (
        ["campaigns", "list"],
        ["report", "progress"],
        ["project"],
        ["users", "add", "anna@example.org", "--role", "staff"],
    ):
        result = ledger(*args)
        assert result.returncode == 1, (args, result.stderr)
        message = result.stderr.replace("\n", "")  # rich wraps long lines at 80 columns
        assert f"no ledger at {missing}" in message and "ledger init" in message
        assert "Traceback" not in result.stderr
        assert not missing.exists() and not missing.parent.exists()
        assert list(elsewhere.iterdir()) == []
    created = ledger("init")
    assert created.returncode == 0, created.stderr
    assert missing.exists()
    listed = ledger("campaigns", "list")
    assert listed.returncode == 0, listed.stderr


ADDRESSES = [
    "anna@example.org",
    "Anna.Rossi+fondo@Example.org",
    "anna@localhost",
    "anna@example",
    "anna@@example.org",
    "anna@example..org",
    "anna @example.org",
    "@example.org",
    "anna@",
    "anna",
    "anna@exa_mple.org",
    "anna@.example.org",
    "a\x00nna@example.org",
    "bruno@example.org\n",
    "annà@esempio.it",
    "anna@xn--esmpio-bva.it",
    '"anna rossi"@example.org',
    "anna@example.test",
]


def _sign_in_accepts(app: Flask, address: str) -> bool:
    from web.auth import LoginForm

    with app.test_request_context(method="POST", data={"email": address, "password": "x"}):
        form = LoginForm(meta={"csrf": False})
        form.validate()
        return not form.email.errors


@pytest.fixture
def sign_in_app(sqlite_url: str) -> Iterator[Flask]:
    from web import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "t", "LEDGER_DATABASE_URL": sqlite_url})
    yield app
    app.extensions["ledger_store"].close()


def test_users_add_refuses_exactly_what_sign_in_refuses(
    cli: CliRunner, store_url: str, sign_in_app: Flask
) -> None:
    for address in ADDRESSES:
        added = cli.invoke(
            main,
            ["users", "add", address, "--role", "staff", "--password-stdin"],
            input="una-password-lunga\n",
        )
        assert (added.exit_code == 0) == _sign_in_accepts(sign_in_app, address), (
            address,
            added.stderr,
        )
        if added.exit_code:
            assert added.stderr.startswith("error:") and "email" in added.stderr
    ledger_store = LedgerStore.open(store_url)
    accepted = [a for a in ADDRESSES if _sign_in_accepts(sign_in_app, a)]
    # Every user the CLI added can sign in with the address as typed.
    assert all(
        ledger_store.app.authenticate(a.strip().lower(), "una-password-lunga") for a in accepted
    )
    ledger_store.close()
    assert {"anna@example.org", "annà@esempio.it"} <= {a.lower() for a in accepted}
    assert not {
        "anna@localhost",
        "anna@@example.org",
        "anna @example.org",
        "anna@",
        "anna@example.test",
    } & set(accepted)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    address=st.one_of(
        st.emails(),
        st.text(max_size=40),
        st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=12), st.text(max_size=12)),
    )
)
def test_one_rule_for_new_users_and_sign_in(sign_in_app: Flask, address: str) -> None:
    try:
        user_email(address)
        accepted = True
    except InvalidInputError:
        accepted = False
    assert accepted == _sign_in_accepts(sign_in_app, address)


def test_a_missing_postgres_database_is_an_error_too(postgres_server: str) -> None:
    missing = postgres_server.rsplit("/", 1)[0] + "/fondo_never_created"
    result = CliRunner(env={"LEDGER_DATABASE_URL": missing}).invoke(main, ["campaigns", "list"])
    assert result.exit_code == 3
    assert "cannot use the database" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"}
    ledger = [sys.executable, "-m", "web.cli"]
    subprocess.run([*ledger, "init", "--demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    # `ledger export donations | head -1`: the reader closes its end before the export writes.
    reader, writer = os.pipe()
    os.close(reader)
    result = subprocess.run(
        [*ledger, "export", "donations"],
        cwd=ROOT,
        env=env,
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    os.close(writer)
    assert result.returncode == 141 and result.stderr == "", result.stderr
