"""`flyte-iap emulator --iap-upstream URL` as a user runs it: its export lines name the
gate, and the gate, in that other process, checks tokens and passes the good ones on."""

from __future__ import annotations

import socket
from pathlib import Path

import requests

from ..cli import Cli, assert_clean_failure
from ..serving_commands import emulator_command
from ..stub_server import Reply, StubServer
from ..tokens import CONFIG, sa_args


def test_the_gate_of_the_emulator_command_works_from_another_process(home: Path, tmp_path: Path):
    cli = Cli(home, {})
    with (
        StubServer(Reply.json({"version": "v1"})) as upstream,
        emulator_command(cli, tmp_path / "emu", "--iap-upstream", upstream.url) as printed,
    ):
        exports, comments = printed.exports, printed.comments
        gate = exports["FLYTE_IAP_GATE_URL"]
        host = gate.removeprefix("http://")
        assert gate.startswith("http://127.0.0.1:") and gate != exports["FLYTE_IAP_TOKEN_URI"]
        assert comments[-1] == (
            f"for ~/.flyte/config.yaml: admin.endpoint: dns:///{host} with insecure: true"
        )
        refused = requests.get(gate + "/api/v1/version", timeout=10)
        assert refused.status_code == 401
        assert refused.headers["x-goog-iap-generated-response"] == "true"
        assert refused.text == "Invalid IAP credentials: empty token"
        assert upstream.requests == []

        token = cli(*sa_args(), **exports).token
        answer = requests.get(
            gate + "/api/v1/version",
            headers={"proxy-authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.json() == {"version": "v1"}
        ((method, path, headers, _),) = upstream.requests
        seen = {name.lower(): value for name, value in headers.items()}
        assert (method, path) == ("GET", "/api/v1/version")
        assert "proxy-authorization" not in seen
        email = CONFIG.service_account_email
        assert seen["x-goog-authenticated-user-email"] == f"accounts.google.com:{email}"
        assert seen["x-forwarded-host"] == host


def test_an_upstream_the_gate_cannot_use_is_bad_input(home: Path):
    result = Cli(home, {})("emulator", "--iap-upstream", "https://flyte.example.com")
    assert result.returncode == 2
    assert_clean_failure(result, "--iap-upstream", "'https://flyte.example.com'", "http://")


def test_a_port_in_use_is_one_line_naming_the_option(home: Path):
    """A busy --port or --iap-gate-port (another emulator left running, say) ends in one
    line naming the option and the address, not in "unexpected error: OSError"."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = Cli(home, {})("emulator", "--port", port, "--exit-after", "0")
        with StubServer(Reply.json({})) as upstream:
            gate = Cli(home, {})(
                "emulator", "--iap-upstream", upstream.url, "--iap-gate-port", port,
                "--exit-after", "0",
            )  # fmt: skip
    for result, option in ((busy, "--port"), (gate, "--iap-gate-port")):
        assert result.returncode == 1
        assert_clean_failure(result, f"{option}: cannot listen on 127.0.0.1:{port}", "in use")
        assert "unexpected" not in result.stderr
