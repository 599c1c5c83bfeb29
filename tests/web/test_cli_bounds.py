"""The CLI refuses out-of-bounds amounts and hostile text, and says loudly when a read model
stopped at an event, until that event is set aside."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.store import LedgerStore
from tests.helpers import add_campaigns, row, save_unprojectable_gift, write_csv
from web.cli import main


def said(text: str) -> str:
    """What the terminal shows, without the line breaks rich adds at its width."""
    return " ".join(text.split())


def stall_a_read_model(cli: CliRunner, store_url: str) -> int:
    add_campaigns(cli)
    store = LedgerStore.open(store_url)
    try:
        position = save_unprojectable_gift(store)
    finally:
        store.close()
    return position


def test_project_exits_non_zero_with_the_read_model_position_and_reason(
    cli: CliRunner, store_url: str
) -> None:
    position = stall_a_read_model(cli, store_url)
    result = cli.invoke(main, ["project"])
    stderr = said(result.stderr)
    assert result.exit_code == 1
    assert f"read model campaign_totals stopped at event {position}" in stderr
    assert "OverflowError" in stderr or "out of range" in stderr
    assert f"ledger events set-aside {position} --reason" in stderr
    assert "Traceback" not in stderr
    # A report from a stopped read model would be incomplete: refused, not printed.
    report = cli.invoke(main, ["report", "progress", "--json"])
    assert report.exit_code == 1 and f"event {position}" in said(report.stderr)
    assert report.stdout == ""


def test_set_aside_lets_the_read_models_catch_up(cli: CliRunner, store_url: str) -> None:
    position = stall_a_read_model(cli, store_url)
    cli.invoke(main, ["project"])
    wrong = cli.invoke(main, ["events", "set-aside", str(position - 1), "--reason", "x"])
    assert wrong.exit_code == 1 and f"stopped at: {position})" in said(wrong.stderr)
    result = cli.invoke(
        main,
        [
            "events",
            "set-aside",
            str(position),
            "--reason",
            "importo di 2^63 centesimi registrato per errore",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert f"event {position} set aside" in result.stdout
    assert cli.invoke(main, ["project"]).exit_code == 0
    report = cli.invoke(
        main, ["report", "progress", "--campaign", "fare-legami-anni-2-3", "--json"]
    )
    assert json.loads(report.stdout)[0]["raised_cents"] == 0


def test_amounts_above_the_bounds_are_refused_with_the_line_number(
    cli: CliRunner, tmp_path: Path
) -> None:
    add_campaigns(cli)
    path = write_csv(
        tmp_path,
        row(amount="10,00"),
        row(amount="92233720368547758,08"),
        row(amount="1.000.000,01"),
    )
    result = cli.invoke(main, ["import", "donations", str(path)])
    assert result.exit_code == 1
    assert ":3: amount: at most € 1.000.000,00" in said(result.stderr)
    assert ":4: amount: at most € 1.000.000,00" in said(result.stderr)
    target = cli.invoke(
        main, ["campaigns", "add", "enorme", "--name", "Enorme", "--target", "1.000.000.000,01"]
    )
    assert target.exit_code == 1 and "at most € 1.000.000.000,00" in said(target.stderr)


def test_the_gift_maximum_follows_ledger_max_gift_eur(store_url: str, tmp_path: Path) -> None:
    cli = CliRunner(env={"LEDGER_DATABASE_URL": store_url, "LEDGER_MAX_GIFT_EUR": "5000"})
    assert cli.invoke(main, ["init"]).exit_code == 0  # a new ledger starts with init
    add_campaigns(cli)
    path = write_csv(tmp_path, row(amount="5.000,00"), row(amount="5.000,01"))
    result = cli.invoke(main, ["import", "donations", str(path)])
    assert result.exit_code == 1 and ":3: amount: at most € 5.000,00" in said(result.stderr)
    assert ":2:" not in result.stderr


def test_a_control_character_in_a_csv_cell_is_refused_with_its_line(
    cli: CliRunner, tmp_path: Path
) -> None:
    add_campaigns(cli)
    path = write_csv(
        tmp_path, row(last_name="Rossi"), row(last_name="Ros\x00si"), row(reference="FL\x1b[2J")
    )
    result = cli.invoke(main, ["import", "donations", str(path)])
    assert result.exit_code == 1
    assert ":3: " in result.stderr and "U+0000" in result.stderr
    assert ":4: " in result.stderr and "U+001B" in result.stderr
    assert "nothing was imported" in said(result.stderr)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["--name", "--target", "--starts"]),
    st.characters(categories=["Cc"], exclude_characters="\t\n\r"),
)
def test_control_characters_in_cli_arguments_are_refused(
    cli: CliRunner, option: str, control: str
) -> None:
    values = {"--name": "Estate", "--target": "100", "--starts": "01/07/2016"}
    values[option] = values[option][:2] + control + values[option][2:]
    result = cli.invoke(
        main, ["campaigns", "add", "estate", *[part for pair in values.items() for part in pair]]
    )
    assert result.exit_code == 1
    assert f"{option}: contains a control character (U+{ord(control):04X})" in said(result.stderr)
    assert cli.invoke(main, ["campaigns", "list"]).stdout == ""


def test_receipts_the_agenzia_file_and_fundraising_reports_wait_for_a_stalled_read_model(
    cli: CliRunner, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They read the read models too: from one that stopped they would leave gifts out of a
    filing or a signed report, so they refuse like `report` and `export` do."""
    monkeypatch.setenv("LEDGER_FOUNDATION_TAX_CODE", "93012345678")
    position = stall_a_read_model(cli, store_url)
    outputs = [tmp_path / "erogazioni.txt", tmp_path / "rendiconto.pdf"]
    for command in (
        ["export", "agenzia-entrate", "--year", "2016", "--out", str(outputs[0])],
        ["report", "fundraising", "fare-legami-anni-2-3", "--out", str(outputs[1])],
        ["receipts", "issue", "--year", "2016"],
    ):
        result = cli.invoke(main, command)
        assert result.exit_code == 1, (command, result.output)
        assert f"event {position}" in said(result.stderr), command
        assert "Traceback" not in result.stderr
    assert not any(path.exists() for path in outputs)
    assert (
        json.loads(cli.invoke(main, ["receipts", "list", "--year", "2016", "--json"]).stdout) == []
    )
