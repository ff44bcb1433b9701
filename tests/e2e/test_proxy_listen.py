"""Where the installed ``flyte-iap proxy`` listens, and what it prints: ``localhost`` only
when it holds the port on both loopback addresses; a port another program holds on ::1
is a one-line failure (clients resolving localhost to ::1 would reach that program);
another loopback address is printed as it is."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from flyte_iap.emulator import Emulator

from ..cli import Cli, assert_clean_failure, flyte_iap_command
from ..proxy_upstream import Upstream
from ..serving_commands import start_proxy
from ..tokens import AUD, SA


def sa_args(emulator: Emulator, home: Path) -> list[str]:
    key = emulator.write_service_account_key(home / "key.json")
    return [SA, "--webapp_client_id", AUD, "--service_account_key", str(key)]


@pytest.mark.parametrize("spelling", ["localhost", "127.0.0.1"])
def test_a_port_another_program_holds_on_ipv6_is_refused(
    cli: Cli, emulator: Emulator, upstream: Upstream, home: Path, spelling: str
) -> None:
    with socket.socket(socket.AF_INET6) as squatter:
        squatter.bind(("::1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        listen = f"{spelling}:{port}"
        result = cli(
            "proxy", "--upstream", upstream.url, "--listen", listen, *sa_args(emulator, home),
            timeout=60,
        )  # fmt: skip
    assert_clean_failure(result, f"cannot listen on [::1]:{port}", "choose another port")
    assert result.returncode == 1
    assert "listening" not in result.stderr


def test_by_default_both_loopback_addresses_answer(
    cli: Cli, emulator: Emulator, upstream: Upstream, home: Path
) -> None:
    proc, port = start_proxy(cli, "--upstream", upstream.url, *sa_args(emulator, home))
    try:
        for host in ("127.0.0.1", "[::1]", "localhost"):
            assert requests.get(f"http://{host}:{port}/x", timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_another_loopback_address_is_printed_as_it_is(
    cli: Cli, emulator: Emulator, upstream: Upstream, home: Path
) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.5", 0))
        except OSError as exc:  # macOS answers on 127.0.0.1 alone unless told otherwise
            pytest.skip(f"127.0.0.5 is not this machine's here: {exc}")
    command = [*flyte_iap_command(), "proxy", "--upstream", upstream.url, "--listen"]
    proc = subprocess.Popen(
        [*command, "127.0.0.5:0", *sa_args(emulator, home)],
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"listening on http://127\.0\.0\.5:(\d+) ", line)
        assert found, line
        url = f"http://127.0.0.5:{found.group(1)}"
        assert requests.get(f"{url}/x", timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out == ""
