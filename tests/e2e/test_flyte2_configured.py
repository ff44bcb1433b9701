"""Flyte 2 with no daemon, from `flyte-iap configure --flyte 2` to `flyte get project`.

The config is the one `configure --flyte 2 --endpoint … --ca-cert …` writes; the stock
Flyte 2 SDK and its `flyte` CLI read it, run `flyte-iap` for a token (authType
ExternalCommand) and reach the backend stand-in over HTTPS through the emulator's IAP
gate. `flyte-iap doctor` passes every check on the same file, and names whom the backend
sees. Without the command, the same SDK call is refused.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from flyte_iap.emulator import Emulator

from ..cli import Cli
from ..flyte2_backend import IAP_IDENTITY_HEADERS, Flyte2Backend
from ..flyte2_clients import FLYTE_CLI, WAIT, client_env, sdk
from ..tokens import AUD, sa_args

PROJECT_SCRIPT = """
import json, sys, flyte, flyte.remote as remote
flyte.init_from_config(sys.argv[1], project="demo", domain="development")
try:
    print(json.dumps({"get": remote.Project.get("demo").pb2.id}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "code": str(getattr(exc, "code", ""))}))
"""
UPLOAD_SCRIPT = """
import json, pathlib, sys, flyte, flyte.remote as remote
flyte.init_from_config(sys.argv[1], project="demo", domain="development")
digest, native = remote.upload_file(pathlib.Path(sys.argv[2]))
print(json.dumps({"digest": digest, "native": native}))
"""


@pytest.fixture
def backend() -> Iterator[Flyte2Backend]:
    """The Flyte 2 backend stand-in, reading the caller from IAP's signed header, as the
    values of `flyte-iap manifests render --flyte 2` set the real one to."""
    with Flyte2Backend(identity_headers=IAP_IDENTITY_HEADERS) as stand_in:
        yield stand_in


@pytest.fixture
def config(cli: Cli, emulator: Emulator, backend: Flyte2Backend, tmp_path: Path) -> Path:
    """The Flyte 2 config `configure --flyte 2` writes for the gate over HTTPS."""
    emulator.start_gate(backend.url, tls=True)
    port = emulator.gate_url.rpartition(":")[2]
    key = emulator.write_service_account_key(tmp_path / "key.json")
    path = cli.home / "flyte2.yaml"
    written = cli(
        "configure",
        "--flyte",
        "2",
        "--config",
        str(path),
        "--endpoint",
        f"dns:///localhost:{port}",
        "--ca-cert",
        str(emulator.gate_ca_file),
        *sa_args(key=key),
    )
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    admin = yaml.safe_load(path.read_text())["admin"]
    assert admin["authType"] == "ExternalCommand" and admin["insecure"] is False
    assert "proxyCommand" not in admin
    return path


def caller(emulator: Emulator) -> tuple[str, str]:
    """(subject, email) of the one account the gate let in, as IAP's assertion names it."""
    passed = {
        ("accounts.google.com:" + r.detail["sub"], r.detail["email"])
        for r in emulator.gate_log
        if isinstance(r.detail, dict)
    }
    ((subject, email),) = passed
    assert email == emulator.config.service_account_email
    return subject, email


def test_the_sdk_reads_the_configured_file_and_gets_through(
    config: Path, emulator: Emulator, backend: Flyte2Backend, home: Path
) -> None:
    got = sdk(home, PROJECT_SCRIPT, str(config))
    assert got == {"get": "demo"}
    # The SDK's first call goes without a token; IAP's 401 makes it run the command.
    verdicts = [r.verdict for r in emulator.gate_log]
    assert verdicts == ["refused", "allowed"]
    (allowed,) = [r for r in emulator.gate_log if r.verdict == "allowed"]
    assert isinstance(allowed.detail, dict) and allowed.detail["aud"] == AUD
    subject, email = caller(emulator)
    assert [(c.identity.subject, c.identity.email) for c in backend.calls if c.identity] == [
        (subject, email)
    ]


def test_an_upload_keeps_its_token_through_select_cluster(
    config: Path, emulator: Emulator, backend: Flyte2Backend, home: Path
) -> None:
    source = home / "bundle.txt"
    source.write_bytes(b"code bundle\n" * 100)
    uploaded = sdk(home, UPLOAD_SCRIPT, str(config), str(source))
    assert uploaded["native"] == "s3://bucket/demo/development/bundle.txt"
    assert uploaded["digest"] == hashlib.md5(source.read_bytes()).hexdigest()
    assert backend.store.objects == {"/demo/development/bundle.txt": source.read_bytes()}
    assert [c.path.rpartition("/")[2] for c in backend.calls] == [
        "SelectCluster",
        "CreateUploadLocation",
    ]
    # SelectCluster answered the gate's own https address: the SDK's second session went
    # there, through IAP, with the same command's token.
    assert backend.selected == [emulator.gate_url.replace("127.0.0.1", "localhost")]
    assert all(c.identity is not None for c in backend.calls)
    assert {r.verdict for r in emulator.gate_log} == {"refused", "allowed"}


def test_flyte_get_project_with_the_config(
    config: Path, emulator: Emulator, backend: Flyte2Backend, home: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FLYTE_CLI, "--config", str(config), "get", "project", "demo"],
        env=client_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "demo" in done.stdout
    assert any(c.path.endswith("/GetProject") for c in backend.calls)


def test_doctor_passes_every_check_and_names_the_caller(
    config: Path, cli: Cli, emulator: Emulator, backend: Flyte2Backend
) -> None:
    result = cli("doctor", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {line[2:18].strip(): line[0] for line in result.stdout.splitlines()[:-1]}
    assert checks == dict.fromkeys(
        [
            "config",
            "command",
            "token",
            "dns",
            "tls",
            "without a token",
            "with the token",
            "backend",
        ],
        "✓",
    )
    assert "Flyte 2" in result.stdout
    _, email = caller(emulator)
    assert f"the backend sees the caller as {email}" in result.stdout
    assert result.stdout.rstrip().endswith("all checks passed")
    # The token went as the SDK sends it (authorization), and never into the report.
    tokens = [r for r in emulator.gate_log if r.verdict == "allowed"]
    assert tokens and all(isinstance(r.detail, dict) for r in tokens)
    assert ".eyJ" not in result.stdout + result.stderr


def test_without_the_command_the_same_sdk_is_refused(
    config: Path, emulator: Emulator, backend: Flyte2Backend, home: Path
) -> None:
    """The control: the same file without authType and command sends no token."""
    admin_free = yaml.safe_load(config.read_text())
    del admin_free["admin"]["authType"], admin_free["admin"]["command"]
    bare = home / "bare.yaml"
    bare.write_text(yaml.safe_dump(admin_free))
    got = sdk(home, PROJECT_SCRIPT, str(bare))
    assert got == {"error": "ConnectError", "code": "Code.UNAUTHENTICATED"}
    assert {r.verdict for r in emulator.gate_log} == {"refused"}
    assert backend.calls == []
