"""`flyte-iap emulator` as a user runs it: a separate process whose export lines
point the tool at it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import google.auth.transport.requests
from google.oauth2 import id_token

from flyte_iap.emulator import Emulator

from ..cli import Cli
from ..serving_commands import emulator_command
from ..tokens import AUD, SA, verify


def test_export_lines_point_the_tool_at_the_emulator(home: Path, tmp_path: Path):
    cli = Cli(home, {})
    with emulator_command(cli, tmp_path / "emu") as printed:
        exports = printed.exports
        assert exports["GOOGLE_APPLICATION_CREDENTIALS"] == str(
            tmp_path / "emu" / "service-account.json"
        )
        result = cli(SA, "--webapp_client_id", AUD, **exports)
        claims = id_token.verify_token(
            result.token,
            google.auth.transport.requests.Request(),
            audience=AUD,
            certs_url=exports["FLYTE_IAP_CERTS_URI"],
        )
        assert claims["email"] == "ci-runner@emulator-project.iam.gserviceaccount.com"


def test_demo_runs_the_whole_flow(home: Path):
    result = Cli(home, {})("demo", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "signature: valid" in result.stdout
    assert "from the cache" in result.stdout
    assert "a token for flyte-deployer@" in result.stdout
    assert "a token for ada@example.com" in result.stdout
    assert "Login succeeded" in result.stdout


def test_google_auth_compute_engine_uses_metadata_server(emulator: Emulator) -> None:
    # google-auth reads GCE_METADATA_HOST at import time, hence a fresh interpreter.
    code = (
        "from google.auth import compute_engine\n"
        "from google.auth.transport.requests import Request\n"
        "c = compute_engine.IDTokenCredentials(Request(), target_audience='aud-x',\n"
        "    use_metadata_identity_endpoint=True)\n"
        "c.refresh(Request())\n"
        "print(c.token)\n"
    )
    env = {**os.environ, **emulator.env()}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    claims = verify(emulator, done.stdout.strip(), audience="aud-x")
    assert claims["email"] == emulator.config.metadata_email
