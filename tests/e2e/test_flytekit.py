"""The real Flyte client: flytekit runs `flyte-iap` as its proxyCommand against a
gRPC flyteadmin stand-in (``admin``) that, like IAP, lets a call through only with a
valid `proxy-authorization: Bearer <Google ID token>`."""

from __future__ import annotations

import json
from pathlib import Path

from flyte_iap.emulator import Emulator

from ..cli import Cli, UserCli, flyte_iap_command
from ..flytekit_backend import IapGate, run_flytekit
from ..tokens import USER, sa_args, user_args


def flyte_config(tmp_path: Path, port: int, command: list[str]) -> Path:
    path = tmp_path / "config.yaml"
    # YAML is a superset of JSON: no YAML writer needed for the test.
    path.write_text(
        json.dumps(
            {
                "admin": {
                    "endpoint": f"dns:///127.0.0.1:{port}",
                    "insecure": True,
                    "proxyCommand": command,
                }
            }
        )
    )
    return path


def test_flytekit_with_a_service_account_token(
    tmp_path: Path, cli: Cli, emulator: Emulator, admin: tuple[int, IapGate]
):
    port, gate = admin
    key = emulator.write_service_account_key(tmp_path / "key.json")
    command = [*flyte_iap_command(), *sa_args(key=key)]
    config = flyte_config(tmp_path, port, command)
    first = run_flytekit(config, cli.env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "v9.9.9-iap"
    # flytekit calls without the header, gets UNAUTHENTICATED, runs us, and retries.
    assert gate.seen[0] is None
    assert gate.seen[-1] is not None
    assert gate.seen[-1]["email"] == emulator.config.service_account_email
    # A new pyflyte process: the token comes from our cache, not from Google.
    again = run_flytekit(config, cli.env)
    assert again.returncode == 0, again.stderr
    assert emulator.count("token") == 1


def test_flytekit_with_a_cached_user_login(
    tmp_path: Path, emulator: Emulator, admin: tuple[int, IapGate]
):
    port, gate = admin
    home = tmp_path / "home"
    home.mkdir()
    user = UserCli(home, emulator)
    assert user("login", *user_args(emulator)).returncode == 0
    config = flyte_config(tmp_path, port, [*flyte_iap_command(), USER, *user_args(emulator)])
    result = run_flytekit(config, user.env)
    assert result.returncode == 0, result.stderr
    assert gate.seen[-1] is not None and gate.seen[-1]["email"] == emulator.config.user_email
    assert emulator.count("auth") == 1  # the login above; flytekit's call needed no browser


def test_flytekit_without_browser_or_terminal_fails_fast_with_our_message(
    tmp_path: Path, emulator: Emulator, admin: tuple[int, IapGate]
):
    port, _ = admin
    home = tmp_path / "home"
    home.mkdir()
    user = UserCli(home, emulator)
    config = flyte_config(tmp_path, port, [*flyte_iap_command(), USER, *user_args(emulator)])
    result = run_flytekit(config, {**user.env, "BROWSER": "/nonexistent/browser"})
    assert result.returncode != 0
    assert "flyte-iap login" in result.stderr  # flytekit passes our stderr on
    assert emulator.count("auth") == 0
