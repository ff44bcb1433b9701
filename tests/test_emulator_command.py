"""`flyte-iap emulator` as a user runs it: a separate process whose export lines
point the tool at it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import google.auth.transport.requests
from google.oauth2 import id_token

from .conftest import Cli, flyte_iap_command

AUD = "emulator-webapp.apps.googleusercontent.com"


def test_export_lines_point_the_tool_at_the_emulator(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(home, {})
    proc = subprocess.Popen(
        [
            *flyte_iap_command(),
            "emulator",
            "--state-dir",
            str(tmp_path / "emu"),
            "--exit-after",
            "30",
        ],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exports: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value.strip("'")
            elif line.startswith("# user:"):
                break
        assert exports["GOOGLE_APPLICATION_CREDENTIALS"] == str(
            tmp_path / "emu" / "service-account.json"
        )
        result = cli("generate-service-account-id-token", "--webapp_client_id", AUD, **exports)
        claims = id_token.verify_token(
            result.token,
            google.auth.transport.requests.Request(),
            audience=AUD,
            certs_url=exports["FLYTE_IAP_CERTS_URI"],
        )
        assert claims["email"] == "ci-runner@emulator-project.iam.gserviceaccount.com"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_runs_the_whole_flow(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    result = Cli(home, {})("demo", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "signature: valid" in result.stdout
    assert "from the cache" in result.stdout
    assert "a token for flyte-deployer@" in result.stdout
    assert "a token for ada@example.com" in result.stdout
    assert "Login succeeded" in result.stdout
