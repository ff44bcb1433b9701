"""generate-service-account-id-token end to end: the installed CLI against the emulator,
every token verified with google-auth."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator

from ..cli import Cli, assert_clean_failure, flyte_iap_command
from ..tokens import AUD, SA, USER, sa_args, verify


def test_key_file_token_is_verified_and_alone_on_stdout(cli: Cli, emulator: Emulator, key: Path):
    result = cli(*sa_args(key=key))
    verify(emulator, result.token, emulator.config.service_account_email)
    assert result.stderr == ""


def test_second_call_is_served_from_cache_without_network(cli: Cli, emulator: Emulator, key: Path):
    first = cli(*sa_args(key=key)).token
    assert emulator.count("token") == 1
    again = cli(SA, "--webapp-client-id", AUD, "--service-account-key", str(key)).token
    assert again == first
    assert emulator.count("token") == 1
    # Nothing listens there: a cache hit must not even try the network.
    dead = cli(
        *sa_args(key=key),
        FLYTE_IAP_TOKEN_URI="http://127.0.0.1:9/token",
    )
    assert dead.token == first


def test_google_application_credentials(cli: Cli, emulator: Emulator, key: Path):
    result = cli(*sa_args(), GOOGLE_APPLICATION_CREDENTIALS=str(key))
    verify(emulator, result.token, emulator.config.service_account_email)


def test_cache_files_are_private_and_named_by_identity(cli: Cli, emulator: Emulator, key: Path):
    assert cli(*sa_args(key=key)).token
    assert stat.S_IMODE(cli.cache_dir.stat().st_mode) == 0o700
    entries = list(cli.cache_dir.glob("*.json"))
    assert len(entries) == 1
    assert stat.S_IMODE(entries[0].stat().st_mode) == 0o600
    assert emulator.config.service_account_email in entries[0].name


def test_metadata_server_keys_cache_by_real_email(cli: Cli, emulator: Emulator):
    result = cli(*sa_args(), GCE_METADATA_HOST=emulator.metadata_host)
    verify(emulator, result.token, emulator.config.metadata_email)
    names = [p.name for p in cli.cache_dir.glob("sa_*.json")]
    assert any(emulator.config.metadata_email in n for n in names), names
    assert not any("default" in n for n in names)
    before = emulator.count("metadata_identity")
    again = cli(*sa_args(), GCE_METADATA_HOST=emulator.metadata_host)
    assert again.token == result.token
    assert emulator.count("metadata_identity") == before == 1


@pytest.mark.parametrize("caller", ["key", "metadata", "user_adc", "external_account", "gcloud"])
def test_impersonation_from_every_caller(cli: Cli, emulator: Emulator, tmp_path: Path, caller: str):
    target = emulator.config.impersonation_targets[0]
    env: dict[str, str] = {}
    args = sa_args(impersonate=target)
    if caller == "key":
        args += ["--service_account_key", str(emulator.write_service_account_key(tmp_path / "k"))]
    elif caller == "metadata":
        env["GCE_METADATA_HOST"] = emulator.metadata_host
    elif caller == "user_adc":
        path = emulator.write_authorized_user_file(tmp_path / "adc.json")
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(path)
    elif caller == "external_account":
        path = emulator.write_external_account_file(tmp_path / "wif.json")
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(path)
    else:  # gcloud's well-known ADC file, found through CLOUDSDK_CONFIG
        gcloud = tmp_path / "gcloud"
        gcloud.mkdir()
        emulator.write_authorized_user_file(gcloud / "application_default_credentials.json")
        env["CLOUDSDK_CONFIG"] = str(gcloud)
    result = cli(*args, **env)
    verify(emulator, result.token, target)
    assert emulator.count("iam_id_token") == 1


def test_external_account_impersonating_in_the_file(cli: Cli, emulator: Emulator, tmp_path: Path):
    target = emulator.config.impersonation_targets[0]
    path = emulator.write_external_account_file(tmp_path / "wif.json", impersonation_email=target)
    result = cli(*sa_args(), GOOGLE_APPLICATION_CREDENTIALS=str(path))
    verify(emulator, result.token, target)
    assert emulator.count("sts") == 1
    # The federated token calls generateIdToken itself: no self-impersonation hop.
    assert emulator.count("iam_access_token") == 0
    assert cli(*sa_args(), GOOGLE_APPLICATION_CREDENTIALS=str(path)).token
    assert emulator.count("sts") == 1


def test_refresh_margin_decides_when_to_fetch_again(tmp_path: Path):
    from flyte_iap.emulator import EmulatorConfig

    with Emulator(EmulatorConfig(token_lifetime=200)) as emu:
        home = tmp_path / "h"
        home.mkdir()
        cli = Cli(home, emu.env())
        key = str(emu.write_service_account_key(tmp_path / "key.json"))
        first = cli(*sa_args(key=key)).token
        # 200 s left is inside the default 5-minute margin: fetch again.
        second = cli(*sa_args(key=key)).token
        assert emu.count("token") == 2
        # With a 60 s margin the cached token is good enough.
        third = cli(*sa_args(key=key), "--refresh_margin", "60").token
        assert emu.count("token") == 2
        assert third == second
        assert first


def test_corrupt_cache_entry_is_replaced(cli: Cli, emulator: Emulator, key: Path):
    token = cli(*sa_args(key=key)).token
    (entry,) = cli.cache_dir.glob("*.json")
    entry.write_text('{"v": 1, "id_token": ')
    again = cli(*sa_args(key=key))
    verify(emulator, again.token, emulator.config.service_account_email)
    assert json.loads(entry.read_text())["id_token"] == again.token
    assert token


def test_unwritable_cache_still_prints_token_with_warning(
    cli: Cli, emulator: Emulator, key: Path, tmp_path: Path
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = cli(
        *sa_args(key=key),
        FLYTE_IAP_CACHE_DIR=str(blocker / "cache"),
    )
    verify(emulator, result.token, emulator.config.service_account_email)
    assert "warning: cannot write the token cache" in result.stderr
    assert "FLYTE_IAP_CACHE_DIR" in result.stderr


def test_sixteen_processes_make_one_request(cli: Cli, emulator: Emulator, key: Path):
    import subprocess

    def sixteen_at_once() -> str:
        emulator.fail_next("token", 200, 1, delay=0.5)  # hold the one fetch open a little
        procs = [
            subprocess.Popen(
                [*flyte_iap_command(), *sa_args(key=key)],
                env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(16)
        ]  # fmt: skip
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * 16, [e for _, e in outputs]
        tokens = {out for out, _ in outputs}
        assert len(tokens) == 1
        return tokens.pop().strip()

    first = sixteen_at_once()  # empty cache
    assert emulator.count("token") == 1
    verify(emulator, first, emulator.config.service_account_email)
    (entry,) = cli.cache_dir.glob("sa_*.json")
    stale = json.loads(entry.read_text())
    stale["expiry"] = int(time.time()) + 60  # inside the 5-minute margin
    entry.write_text(json.dumps(stale))
    second = sixteen_at_once()  # stale cache
    assert emulator.count("token") == 2
    assert second != first
    verify(emulator, second, emulator.config.service_account_email)


def test_retries_a_dropped_connection(cli: Cli, emulator: Emulator, key: Path):
    emulator.fail_next("token", 0, 1)
    assert cli(*sa_args(key=key)).token
    assert emulator.count("token") == 2


def test_verbose_shows_traceback_on_error(cli: Cli, tmp_path: Path):
    result = cli(*sa_args("--verbose", key=tmp_path / "nope"))
    assert (result.returncode, result.stdout) == (1, "")
    assert "Traceback" in result.stderr
    missing = f"credentials file {tmp_path / 'nope'} (from --service_account_key) does not exist"
    assert result.stderr.splitlines()[-1] == f"flyte-iap: {missing}; check the path"


def test_version_and_module_entry_point(cli: Cli):
    import subprocess
    import sys

    from flyte_iap import __version__

    assert __version__ in cli("--version").stdout
    proc = subprocess.run(
        [sys.executable, "-m", "flyte_iap", "--help"],
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=30,
    )
    assert proc.returncode == 0 and SA in proc.stdout


def test_user_token_command_is_not_a_stub(cli: Cli, emulator: Emulator):
    """It knows what a person's login needs, and asks for it before anything else."""
    result = cli(USER, "--webapp_client_id", AUD)
    assert_clean_failure(
        result,
        "flyte-iap: Missing option '--desktop_client_id'",
        f"See 'flyte-iap {USER} --help'.",
    )
    assert result.returncode == 2
    assert emulator.requests_log == []


def test_cache_dir_defaults_to_xdg(cli: Cli, emulator: Emulator, key: Path, tmp_path: Path):
    xdg = tmp_path / "xdg"
    assert cli(
        *sa_args(key=key),
        FLYTE_IAP_CACHE_DIR="",
        XDG_CACHE_HOME=str(xdg),
    ).token
    assert list((xdg / "flyte-iap").glob("sa_*.json"))
    assert cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR="").token
    assert list((cli.home / ".cache" / "flyte-iap").glob("sa_*.json"))
