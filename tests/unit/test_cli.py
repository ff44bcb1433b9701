"""The command line in process, through ``run`` and a test wiring: options declared once
(both spellings, types, ranges), usage errors, help, ``--verbose``, and retries without
real backoff."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from flyte_iap.cli.app import COMMANDS, cli
from flyte_iap.cli.manifests import RENDER_OPTIONS
from flyte_iap.cli.options import SERVICE_ACCOUNT_OPTIONS, USER_OPTIONS
from flyte_iap.emulator import Emulator

from ..cli import InProcessCli, assert_clean_failure
from ..tokens import AUD, SA, USER, sa_args, verify


def test_every_option_takes_both_spellings(run_cli: InProcessCli, key: Path) -> None:
    underscore = run_cli(*sa_args("--refresh_margin", "60", key=key)).token
    dashed = run_cli(
        SA, "--webapp-client-id", sa_args()[2], "--service-account-key", str(key),
        "--refresh-margin=60",
    ).token  # fmt: skip
    assert dashed == underscore
    for option in (*SERVICE_ACCOUNT_OPTIONS, *USER_OPTIONS):  # the plugin's spelling first
        assert option.spellings[0] == "--" + option.name
        assert option.spellings[-1] == "--" + option.name.replace("_", "-")
    for option in RENDER_OPTIONS:  # this tool's own: dashed first
        assert option.spellings[0] == "--" + option.name.replace("_", "-")
        assert option.spellings[-1] == "--" + option.name


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([SA], "--webapp_client_id"),
        (sa_args("--bogus"), "--bogus"),
        (sa_args("--refresh_margin", "-5"), "--refresh_margin"),
        (sa_args("--refresh_margin", "soon"), "--refresh_margin"),
        (sa_args("--refresh_margin", "nan"), "not a finite number"),
        (sa_args("--refresh_margin", "inf"), "not a finite number"),
        (sa_args("--refresh_margin", "1e400"), "not a finite number"),
        ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w", "--timeout", "nan"],
         "not a finite number"),
        ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w", "--timeout", "inf"],
         "not a finite number"),
        ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w", "--port", "0"], "--port"),
        ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w", "--timeout", ".5"],
         "--timeout"),
        ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w"], "--project"),
        ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w", "--cache", "disk",
          "--desktop_client_secret", "s"], "--cache"),
    ],
)  # fmt: skip
def test_usage_errors_take_two_lines_and_exit_2(
    run_cli: InProcessCli, args: list[str], needle: str
) -> None:
    result = run_cli(*args)
    assert_clean_failure(result, needle)
    assert result.returncode == 2


def test_help_shows_each_summary_whole(run_cli: InProcessCli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    listing = " ".join(result.stdout.split("Commands:", 1)[1].split())
    assert "..." not in listing
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None and command.help
        summary = " ".join(command.help.split("\n\n")[0].split())
        assert f"{name} {summary}" in listing
    assert "Print an ID token of a service account for IAP (cached until near expiry)." in listing


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_before_or_after_the_command(run_cli: InProcessCli, key: Path, where: str) -> None:
    args = ["-v", *sa_args(key=key)] if where == "before" else sa_args("--verbose", key=key)
    result = run_cli(*args)
    assert result.token
    assert "POST http" in result.stderr and "(the token endpoint, try 1/3)" in result.stderr


def test_verbose_shows_a_traceback_quiet_does_not(run_cli: InProcessCli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    quiet = run_cli(*sa_args(key=missing))
    assert_clean_failure(quiet, "does not exist")
    loud = run_cli(*sa_args("-v", key=missing))
    assert loud.returncode == 1 and "Traceback" in loud.stderr and loud.stdout == ""


# --- moved here from the subprocess tier: the sleep seam makes backoff free ----------------
def test_retries_server_errors_then_succeeds(
    run_cli: InProcessCli, emulator: Emulator, key: Path
) -> None:
    emulator.fail_next("token", 503, 1)
    emulator.fail_next("token", 429, 1)
    result = run_cli(*sa_args(key=key))
    verify(emulator, result.token, emulator.config.service_account_email)
    assert emulator.count("token") == 3
    assert len(run_cli.sleeps) == 2


def test_gives_up_after_three_tries(run_cli: InProcessCli, emulator: Emulator, key: Path) -> None:
    emulator.fail_next("token", 500, 5)
    result = run_cli(*sa_args(key=key))
    assert_clean_failure(result, "500")
    assert emulator.count("token") == 3


def test_no_retry_on_client_errors(run_cli: InProcessCli, emulator: Emulator, key: Path) -> None:
    emulator.fail_next(
        "token", 400, 1, body={"error": "invalid_request", "error_description": "Bad thing."}
    )
    result = run_cli(*sa_args(key=key))
    assert_clean_failure(result, "invalid_request: Bad thing.")
    assert emulator.count("token") == 1
    assert run_cli.sleeps == []


@pytest.mark.parametrize(("status", "needle"), [(404, "404"), (500, "500")])
def test_metadata_server_errors(
    run_cli: InProcessCli, emulator: Emulator, status: int, needle: str
) -> None:
    emulator.fail_next("metadata_identity", status, 5)
    result = run_cli(*sa_args(), GCE_METADATA_HOST=emulator.metadata_host)
    assert_clean_failure(result, needle, emulator.metadata_host)
    assert emulator.count("metadata_identity") == (1 if status == 404 else 3)


def test_a_client_secret_on_the_command_line_is_warned_about(
    run_cli: InProcessCli, emulator: Emulator
) -> None:
    """Every user of the machine can read a command line (ps); the variable is private."""
    c = emulator.config
    args = [USER, "--desktop_client_id", c.desktop_client_id, "--webapp_client_id", AUD]
    result = run_cli(*args, "--desktop_client_secret", c.desktop_client_secret, "--timeout", "1")
    assert "--desktop_client_secret can be read by every user" in result.stderr
    assert c.desktop_client_secret not in result.stderr
    quiet = run_cli(
        *args, "--timeout", "1", FLYTE_IAP_DESKTOP_CLIENT_SECRET=c.desktop_client_secret
    )
    assert "can be read by every user" not in quiet.stderr
