"""generate-user-id-token, login, logout and status end to end: the installed CLI,
the emulator, and a scripted browser that the tool opens through $BROWSER."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator, EmulatorConfig

from ..browsers._launch import FORGED_STATE
from ..cli import UserCli, assert_clean_failure, assert_login_failure, flyte_iap_command
from ..serving_commands import interrupt, start_login
from ..tokens import USER, user_args, user_grants, verify_user_token


@pytest.fixture
def user_cli(tmp_path: Path, emulator: Emulator) -> UserCli:
    home = tmp_path / "home"
    home.mkdir()
    return UserCli(home, emulator)


def test_browser_login_gives_a_verified_token(user_cli: UserCli, emulator: Emulator):
    result = user_cli(USER, *user_args(emulator))
    verify_user_token(emulator, result.token)
    assert emulator.count("secret") == 1
    assert emulator.count("auth") == 1
    (visit,) = user_cli.browser_visits(1)
    assert "Login succeeded" in str(visit.get("text", visit))
    # The URL was shown on stderr; the token alone on stdout.
    assert emulator.auth_uri in result.stderr
    entry = user_cli.cache_entry()
    assert entry["email"] == emulator.config.user_email
    assert entry["refresh_token"]


def test_cache_lifecycle(tmp_path: Path):
    """empty -> login -> cached (no network) -> near expiry -> refresh (no browser)
    -> revoked -> login again."""
    with Emulator(EmulatorConfig(token_lifetime=240)) as emu:
        home = tmp_path / "home"
        home.mkdir()
        cli = UserCli(home, emu)
        first = cli(USER, *user_args(emu)).token
        assert emu.count("auth") == 1 and user_grants(emu) == ["authorization_code"]
        # 240 s left: fresh for a 60 s margin, even with every endpoint dead.
        dead = {
            name: "http://127.0.0.1:9"
            for name in (
                "FLYTE_IAP_TOKEN_URI",
                "FLYTE_IAP_SECRET_MANAGER_URI",
                "FLYTE_IAP_AUTH_URI",
            )
        }
        assert cli(USER, *user_args(emu, "--refresh_margin", "60"), **dead).token == first
        # Within the default 5-minute margin: refreshed, no browser, secret from the cache.
        refreshed = cli(USER, *user_args(emu)).token
        verify_user_token(emu, refreshed)
        assert refreshed != first
        assert emu.count("auth") == 1
        assert user_grants(emu) == ["authorization_code", "refresh_token"]
        assert emu.count("secret") == 1
        refresh_params = [p for name, p in emu.requests_log if name == "token"][-1]
        assert refresh_params["grant_type"] == "refresh_token"
        assert refresh_params["audience"] == emu.config.webapp_client_id
        # Revoked at Google: invalid_grant clears it and the browser comes back.
        revoked = cli.cache_entry()["refresh_token"]
        assert isinstance(revoked, str)
        requests_revoke(emu, revoked)
        again = cli(USER, *user_args(emu))
        verify_user_token(emu, again.token)
        assert "no longer valid" in again.stderr
        assert emu.count("auth") == 2
        assert cli.cache_entry()["refresh_token"] != revoked
        assert len(cli.browser_visits(2)) == 2


def requests_revoke(emu: Emulator, token: str) -> None:
    import requests

    assert requests.post(emu.revoke_uri, data={"token": token}, timeout=10).status_code == 200


def test_transient_refresh_failure_keeps_the_refresh_token(tmp_path: Path):
    with Emulator(EmulatorConfig(token_lifetime=240)) as emu:
        home = tmp_path / "home"
        home.mkdir()
        cli = UserCli(home, emu)
        assert cli(USER, *user_args(emu)).token
        saved = cli.cache_entry()
        emu.fail_next("token", 503, 3)
        result = cli(USER, *user_args(emu))
        # The cached token has not expired yet: handed back with a warning.
        assert result.token == saved["id_token"]
        assert "could not refresh" in result.stderr
        assert cli.cache_entry()["refresh_token"] == saved["refresh_token"]
        entry = cli.cache_entry()
        assert entry["client_secret"] == saved["client_secret"]
        # The network is back: refresh, no browser.
        assert cli(USER, *user_args(emu)).token != saved["id_token"]
        assert emu.count("auth") == 1


def test_timeout_during_refresh_of_an_expired_token_fails_and_keeps_everything(
    user_cli: UserCli, emulator: Emulator
):
    assert user_cli(USER, *user_args(emulator)).token
    path = next(user_cli.cache_dir.glob("user_*.json"))
    entry = json.loads(path.read_text())
    entry["expiry"] = int(time.time()) - 10
    path.write_text(json.dumps(entry))
    emulator.fail_next("token", 500, 3)
    result = user_cli(USER, *user_args(emulator))
    assert_clean_failure(result, "500")
    after = json.loads(path.read_text())
    assert after["refresh_token"] == entry["refresh_token"]
    assert emulator.count("auth") == 1


def test_invalid_client_rereads_the_secret_once(user_cli: UserCli, emulator: Emulator):
    assert user_cli(USER, *user_args(emulator)).token
    path = next(user_cli.cache_dir.glob("user_*.json"))
    entry = json.loads(path.read_text())
    entry["client_secret"] = "rotated-away"
    entry["expiry"] = int(time.time()) + 60
    path.write_text(json.dumps(entry))
    result = user_cli(USER, *user_args(emulator))
    verify_user_token(emulator, result.token)
    assert emulator.count("secret") == 2
    assert json.loads(path.read_text())["client_secret"] == emulator.config.desktop_client_secret


def test_explicit_secret_needs_no_secret_manager(user_cli: UserCli, emulator: Emulator):
    c = emulator.config
    result = user_cli(
        USER,
        "--desktop_client_id",
        c.desktop_client_id,
        "--webapp_client_id",
        c.webapp_client_id,
        FLYTE_IAP_DESKTOP_CLIENT_SECRET=c.desktop_client_secret,
    )
    verify_user_token(emulator, result.token)
    assert emulator.count("secret") == 0
    assert "client_secret" not in user_cli.cache_entry()


def test_wrong_explicit_secret(user_cli: UserCli, emulator: Emulator):
    c = emulator.config
    result = user_cli(
        USER,
        "--desktop_client_id",
        c.desktop_client_id,
        "--webapp_client_id",
        c.webapp_client_id,
        "--desktop_client_secret",
        "not-the-secret",
    )
    assert_login_failure(result, "invalid_client")
    assert "not-the-secret" not in result.stderr


def test_concurrent_processes_open_one_browser(user_cli: UserCli, emulator: Emulator):
    procs = [
        subprocess.Popen(
            [*flyte_iap_command(), USER, *user_args(emulator)],
            env=user_cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [e for _, e in outputs]
    tokens = {out for out, _ in outputs}
    assert len(tokens) == 1
    verify_user_token(emulator, tokens.pop().strip())
    assert emulator.count("auth") == 1
    assert len(user_cli.browser_visits(1)) == 1


@pytest.mark.timeout(60)  # the default login timeout is 300 s: it must not wait for one
def test_no_browser_and_no_terminal_fails_at_once(user_cli: UserCli, emulator: Emulator):
    result = user_cli(USER, *user_args(emulator), BROWSER="/nonexistent/browser")
    assert_clean_failure(result, "flyte-iap login", "terminal")
    assert emulator.count("auth") == 0 and user_grants(emulator) == []


def test_denied_consent_ends_the_flow(tmp_path: Path, emulator: Emulator):
    home = tmp_path / "home"
    home.mkdir()
    cli = UserCli(home, emulator, action="deny")
    result = cli(USER, *user_args(emulator))
    assert_login_failure(result, "access_denied")
    assert user_grants(emulator) == []


def test_forged_state_never_reaches_the_token_endpoint(tmp_path: Path, emulator: Emulator):
    home = tmp_path / "home"
    home.mkdir()
    cli = UserCli(home, emulator, action="forge-state")
    login = start_login(cli, USER, *user_args(emulator))
    (visit,) = cli.browser_visits(1)  # the browser is done with its forged visit
    assert visit["error"] is None, visit
    _, url, status = visit["visited"][-1]  # the loopback, with the real code and a forged state
    assert f"state={FORGED_STATE}" in url and (status, visit["status"]) == (400, 400)
    assert user_grants(emulator) == []
    assert login.poll() is None  # still waiting for its own redirect
    code, _, err = interrupt(login)
    assert code == 130 and err.splitlines()[-1] == "flyte-iap: interrupted"
    assert user_grants(emulator) == []


def test_busy_port(user_cli: UserCli, emulator: Emulator):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = user_cli(USER, *user_args(emulator, "--port", str(port)))
    assert_clean_failure(result, f"port {port}", "--port")


def test_fixed_port_is_used(user_cli: UserCli, emulator: Emulator):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert user_cli(USER, *user_args(emulator, "--port", str(port))).token
    auth = next(p for name, p in emulator.requests_log if name == "auth")
    assert auth["redirect_uri"] == f"http://127.0.0.1:{port}/"
    assert auth["code_challenge_method"] == "S256"
    assert auth["scope"] == "openid email"
    assert auth["access_type"] == "offline"


def test_unknown_secret(user_cli: UserCli, emulator: Emulator):
    c = emulator.config
    result = user_cli(
        USER,
        "--desktop_client_id",
        c.desktop_client_id,
        "--desktop_client_secret_gcp_secret_name",
        "nope",
        "--webapp_client_id",
        c.webapp_client_id,
        "--project",
        c.project,
    )
    assert_clean_failure(result, "nope", "NOT_FOUND")


def test_login_logout_status(user_cli: UserCli, emulator: Emulator):
    login = user_cli("login", *user_args(emulator))
    assert login.returncode == 0, login.stderr
    assert login.stdout == ""
    entry = user_cli.cache_entry()
    status = user_cli("status")
    assert emulator.config.user_email in status.stdout
    assert emulator.config.webapp_client_id in status.stdout
    for secret in (entry["refresh_token"], entry["client_secret"], entry["id_token"]):
        assert str(secret) not in status.stdout + status.stderr
    # login forces a new browser login even with a valid cache
    assert user_cli("login", *user_args(emulator)).returncode == 0
    assert emulator.count("auth") == 2
    entry = user_cli.cache_entry()
    c = emulator.config
    out = user_cli(
        "logout",
        "--desktop_client_id",
        c.desktop_client_id,
        "--webapp_client_id",
        c.webapp_client_id,
    )
    assert out.returncode == 0, out.stderr
    assert emulator.count("revoke") == 1
    assert not list(user_cli.cache_dir.glob("user_*.json"))
    # The revoked refresh token really is dead at the token endpoint.
    import requests

    refused = requests.post(
        emulator.token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": user_cli_refresh(entry),
            "client_id": c.desktop_client_id,
            "client_secret": c.desktop_client_secret,
        },
        timeout=10,
    )
    assert refused.status_code == 400


def user_cli_refresh(entry: dict[str, object]) -> str:
    return str(entry["refresh_token"])


def test_keyring_without_backend_falls_back_to_file(user_cli: UserCli, emulator: Emulator):
    result = user_cli(
        USER,
        *user_args(emulator, "--cache", "keyring"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    verify_user_token(emulator, result.token)
    assert "no OS keyring" in result.stderr
    assert user_cli.cache_entry()["refresh_token"]


def test_keyring_keeps_the_refresh_token_out_of_the_file(
    tmp_path: Path, user_cli: UserCli, emulator: Emulator
):
    env = {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    first = user_cli(USER, *user_args(emulator, "--cache", "keyring"), **env)
    verify_user_token(emulator, first.token)
    entry = user_cli.cache_entry()
    assert "refresh_token" not in entry and entry["secrets_in"] == "keyring"
    path = next(user_cli.cache_dir.glob("user_*.json"))
    entry["expiry"] = int(time.time()) + 60
    path.write_text(json.dumps(entry))
    again = user_cli(USER, *user_args(emulator, "--cache", "keyring"), **env)
    verify_user_token(emulator, again.token)
    assert emulator.count("auth") == 1  # refreshed from the keyring, no browser


def test_missing_secret_source_is_a_usage_error(user_cli: UserCli, emulator: Emulator):
    c = emulator.config
    result = user_cli(
        USER, "--desktop_client_id", c.desktop_client_id, "--webapp_client_id", c.webapp_client_id
    )
    assert_clean_failure(result, "--desktop_client_secret_gcp_secret_name", "--project")
    assert result.returncode == 2
