"""`flyte-iap emulator --iap-upstream URL [--iap-tls]` as a user runs it: its export lines
name the gate (and the CA to trust for HTTPS), and the gate, in that other process, checks
tokens and passes the good ones on with IAP's signed header."""

from __future__ import annotations

import socket
import stat
import urllib.parse
from pathlib import Path

import google.auth.transport.requests
import pytest
import requests
from google.oauth2 import id_token

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


def test_the_gate_of_the_emulator_command_serves_https_with_a_ca_to_trust(
    home: Path, tmp_path: Path
):
    cli = Cli(home, {})
    state = tmp_path / "emu"
    with (
        StubServer(Reply.json({"version": "v1"})) as upstream,
        emulator_command(cli, state, "--iap-upstream", upstream.url, "--iap-tls") as printed,
    ):
        exports, comments = printed.exports, printed.comments
        gate, ca = exports["FLYTE_IAP_GATE_URL"], exports["FLYTE_IAP_GATE_CA_FILE"]
        port = urllib.parse.urlsplit(gate).port
        assert gate == f"https://127.0.0.1:{port}"
        assert Path(ca) == state / "iap-gate-ca.pem"
        assert stat.S_IMODE(Path(ca).stat().st_mode) & 0o022 == 0
        assert comments[-1] == (
            f"for ~/.flyte/config.yaml: admin.endpoint: dns:///localhost:{port} with "
            f"insecure: false and caCertFilePath: {ca}"
        )
        signed = next(c for c in comments if c.startswith("IAP signed header: "))
        audience = signed.partition(" aud ")[2].partition(",")[0]
        keys_url = signed.rpartition(" keys ")[2]

        with pytest.raises(requests.exceptions.SSLError):
            requests.get(gate + "/api/v1/version", timeout=10)  # the system's CAs only
        local = gate.replace("127.0.0.1", "localhost")
        refused = requests.get(local + "/api/v1/version", verify=ca, timeout=10)
        assert (refused.status_code, refused.text) == (401, "Invalid IAP credentials: empty token")
        assert upstream.requests == []

        token = cli(*sa_args(), **exports).token
        answer = requests.get(
            local + "/api/v1/version",
            headers={"authorization": f"Bearer {token}"},  # as the Flyte 2 SDK sends it
            verify=ca,
            timeout=10,
        )
        assert answer.json() == {"version": "v1"}
        ((_, _, headers, _),) = upstream.requests
        seen = {name.lower(): value for name, value in headers.items()}
        assert "authorization" not in seen
        assert seen["x-forwarded-proto"] == "https"
        claims = id_token.verify_token(
            seen["x-goog-iap-jwt-assertion"],
            google.auth.transport.requests.Request(),
            audience=audience,
            certs_url=keys_url,
        )
        assert claims["iss"] == "https://cloud.google.com/iap"
        assert claims["email"] == CONFIG.service_account_email
        assert claims["sub"].startswith("accounts.google.com:")


def test_iap_tls_without_an_upstream_is_bad_input(home: Path):
    result = Cli(home, {})("emulator", "--iap-tls", "--exit-after", "0")
    assert result.returncode == 2
    assert_clean_failure(result, "--iap-tls", "--iap-upstream")


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
