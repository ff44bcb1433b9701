"""``flyte-iap doctor`` as installed, in a subprocess, against the emulator's IAP gate:
the config found through FLYTECTL_CONFIG, the exit codes a script relies on, a hanging
proxy command stopped in time, and the token never in the output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from flyte_iap.emulator import Emulator

from ..cli import Cli, flyte_iap_command
from ..stub_server import Reply, StubServer
from ..tokens import AUD, SA

VERSION = {"controlPlaneVersion": {"Version": "v1.x"}}


@pytest.fixture
def flyteadmin() -> Iterator[StubServer]:
    with StubServer(Reply.json(VERSION)) as stub:
        yield stub


def config_for(home: Path, gate: str, command: list[str]) -> Path:
    path = home / "flyte.yaml"
    admin = {"endpoint": "dns:///" + gate.removeprefix("http://"), "insecure": True}
    path.write_text(yaml.safe_dump({"admin": {**admin, "proxyCommand": command}}))
    return path


def sa_command(emulator: Emulator, home: Path) -> list[str]:
    key = emulator.write_service_account_key(home / "key.json")
    return [*flyte_iap_command(), SA, "--webapp_client_id", AUD, "--service_account_key", str(key)]


def test_all_checks_pass_with_the_config_from_flytectl_config(
    cli: Cli, emulator: Emulator, home: Path, flyteadmin: StubServer
) -> None:
    command = sa_command(emulator, home)
    config = config_for(home, emulator.start_gate(flyteadmin.url), command)
    result = cli("doctor", FLYTECTL_CONFIG=str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(config) in result.stdout
    assert result.stdout.count("✓") == 7 and "✗" not in result.stdout
    assert result.stdout.rstrip().endswith("all checks passed")
    token = cli(*command[len(flyte_iap_command()) :]).token  # the cached one it printed
    assert token not in result.stdout + result.stderr


def test_a_gate_without_iap_fails_loudly(
    cli: Cli, emulator: Emulator, home: Path, flyteadmin: StubServer
) -> None:
    gate = emulator.start_gate(flyteadmin.url, check=False)
    result = cli("doctor", "--config", str(config_for(home, gate, sa_command(emulator, home))))
    assert result.returncode == 1
    assert "NOT PROTECTED BY IAP" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.timeout(60)  # a hang guard: it gives up after 2 s; the command would sleep 120 s
def test_a_hanging_proxy_command_is_given_up_on(
    cli: Cli, emulator: Emulator, home: Path, flyteadmin: StubServer
) -> None:
    gate = emulator.start_gate(flyteadmin.url)
    hang = [sys.executable, "-c", "import time; time.sleep(120)"]
    result = cli(
        "doctor",
        "--config",
        str(config_for(home, gate, hang)),
        FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT="2",
        timeout=60,
    )
    assert result.returncode == 1
    assert "did not finish within 2 s" in result.stdout
    assert flyteadmin.requests == []  # no token: nothing was sent to flyteadmin


def test_the_token_command_on_the_command_line(
    cli: Cli, emulator: Emulator, home: Path, flyteadmin: StubServer
) -> None:
    gate = emulator.start_gate(flyteadmin.url)
    key = emulator.write_service_account_key(home / "key.json")
    endpoint = "dns:///" + gate.removeprefix("http://")
    args = ["--webapp_client_id", AUD, "--service_account_key", str(key)]
    result = cli("doctor", "--endpoint", endpoint, "--insecure", SA, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    wrong = cli(
        "doctor",
        "--endpoint",
        endpoint,
        "--insecure",
        "--",
        SA,
        "--webapp_client_id",
        "x",
        *args[2:],
    )
    assert wrong.returncode == 1
    assert "Invalid IAP credentials" in wrong.stdout
