"""The real Flyte 2 SDK and CLI straight at the emulator's IAP gate over HTTPS, with no
proxy: ``authType: ExternalCommand`` runs `flyte-iap` for a token, sends it as
``authorization: Bearer``, and the backend stand-in learns who called from IAP's signed
header, as the real backend reads it (``identityHeaders.claimsJwtHeader``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flyte_iap.emulator import Emulator
from flyte_iap.emulator.keys import parse_jwt

from ..cli import flyte_iap_command
from ..flyte2_backend import IAP_IDENTITY_HEADERS, Flyte2Backend, Identity
from ..flyte2_clients import FLYTE_CLI, QUICK_EXIT, WAIT, client_env
from ..tokens import sa_args

WHOAMI_SCRIPT = """
import json, sys, flyte, flyte.remote as remote
flyte.init_from_config(sys.argv[1])
user = remote.User.get().pb2
print(json.dumps({"subject": user.subject, "email": user.email,
                  "project": remote.Project.get("demo").pb2.id}))
"""
USER_INFO = "/flyteidl2.auth.IdentityService/UserInfo"
CONNECT_JSON = {"Content-Type": "application/json", "Connect-Protocol-Version": "1"}


@pytest.fixture
def backend() -> Iterator[Flyte2Backend]:
    with Flyte2Backend(identity_headers=IAP_IDENTITY_HEADERS) as stand_in:
        yield stand_in


def sdk_config(home: Path, emulator: Emulator, key: Path) -> Path:
    """A Flyte 2 config for the gate over HTTPS, its token from `flyte-iap` (the keys the
    SDK reads: admin.endpoint, insecure, authType, command, caCertFilePath)."""
    port = emulator.gate_url.rpartition(":")[2]
    command = [*flyte_iap_command(), *sa_args(key=key)]
    config = home / "config.yaml"
    config.write_text(
        "admin:\n"
        f"  endpoint: dns:///localhost:{port}\n"
        "  insecure: false\n"
        "  authType: ExternalCommand\n"
        f"  caCertFilePath: {json.dumps(str(emulator.gate_ca_file))}\n"
        "  command:\n"
        + "".join(f"    - {json.dumps(word)}\n" for word in command)
        + "task:\n  project: demo\n  domain: development\n"
    )
    return config


def caller(emulator: Emulator) -> Identity:
    """Who the gate let in (one caller), named as IAP's assertion names it."""
    passed = {
        (r.detail["sub"], r.detail["email"])
        for r in emulator.gate_log
        if isinstance(r.detail, dict)
    }
    ((sub, email),) = passed
    assert email == emulator.config.service_account_email
    return Identity("accounts.google.com:" + sub, email)


def test_the_sdk_with_an_external_command_is_named_by_the_backend(
    emulator: Emulator, backend: Flyte2Backend, home: Path, tmp_path: Path
) -> None:
    emulator.start_gate(backend.url, tls=True)
    key = emulator.write_service_account_key(tmp_path / "key.json")
    config = sdk_config(home, emulator, key)
    done = subprocess.run(
        [sys.executable, "-c", WHOAMI_SCRIPT + QUICK_EXIT, str(config)],
        env=client_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    who = caller(emulator)
    assert seen == {"subject": who.subject, "email": who.email, "project": "demo"}
    # The SDK's first call goes without a token: IAP's 401 makes it run the command.
    assert [r.verdict for r in emulator.gate_log] == ["refused", "allowed", "allowed"]
    assert emulator.gate_log[0].detail == "empty token"
    paths = [c.path.rpartition("/")[2] for c in backend.calls]
    assert paths == ["UserInfo", "GetProject"]
    assert [c.identity for c in backend.calls] == [who, who]  # every call attributed
    for call in backend.calls:
        assert "authorization" not in call.headers  # IAP consumed the SDK's bearer
        assert call.headers["x-forwarded-proto"] == "https"


def test_flyte_whoami_through_the_gate(
    emulator: Emulator, backend: Flyte2Backend, home: Path, tmp_path: Path
) -> None:
    emulator.start_gate(backend.url, tls=True)
    key = emulator.write_service_account_key(tmp_path / "key.json")
    config = sdk_config(home, emulator, key)
    done = subprocess.run(
        [sys.executable, "-c", FLYTE_CLI, "--config", str(config), "whoami"],
        env=client_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    who = caller(emulator)
    assert who.subject in done.stdout and who.email in done.stdout


def test_userinfo_names_the_caller_not_a_spoofed_identity(
    emulator: Emulator, backend: Flyte2Backend
) -> None:
    """Straight at the backend, a forged assertion is believed (the backend decodes it
    unchecked: the gate in front is what makes it true); through the gate, the caller's
    own identity replaces it."""
    forged_claims = {"sub": "accounts.google.com:1", "email": "admin@example.com"}
    forged = emulator.mint_id_token(**forged_claims)  # any JWT: only the payload is read
    spoof = {**CONNECT_JSON, "X-Goog-IAP-JWT-Assertion": forged}
    direct = requests.post(backend.url + USER_INFO, data="{}", headers=spoof, timeout=10)
    assert direct.json() == {"subject": "accounts.google.com:1", "email": "admin@example.com"}

    gate = emulator.start_gate(backend.url, tls=True)
    token = emulator.mint_id_token()
    answer = requests.post(
        gate + USER_INFO,
        data="{}",
        headers={**spoof, "Authorization": f"Bearer {token}"},
        verify=emulator.gate_ca_file,
        timeout=10,
    )
    _, claims = parse_jwt(token)
    expected = {"subject": "accounts.google.com:" + claims["sub"], "email": claims["email"]}
    assert answer.json() == expected
    assert backend.calls[-1].identity == Identity(expected["subject"], expected["email"])


def test_userinfo_without_an_identity_is_unauthenticated(backend: Flyte2Backend) -> None:
    answer = requests.post(backend.url + USER_INFO, data="{}", headers=CONNECT_JSON, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"
    assert backend.calls[-1].identity is None
