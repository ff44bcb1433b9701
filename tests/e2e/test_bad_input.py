"""Bad input: each case exits non-zero with empty stdout and one or two lines that name
the file or account, never a traceback or a secret."""

from __future__ import annotations

import json
from pathlib import Path

from flyte_iap.emulator import Emulator

from ..cli import Cli, Result, assert_clean_failure
from ..tokens import SA, sa_args


def run_with_key(cli: Cli, path: Path) -> Result:
    return cli(*sa_args(key=path))


def test_missing_key_file(cli: Cli, tmp_path: Path):
    path = tmp_path / "missing.json"
    assert_clean_failure(run_with_key(cli, path), str(path), "does not exist")


def test_empty_key_file(cli: Cli, tmp_path: Path):
    path = tmp_path / "empty.json"
    path.write_text("")
    assert_clean_failure(run_with_key(cli, path), str(path), "empty")


def test_non_json_key_file(cli: Cli, tmp_path: Path):
    path = tmp_path / "key.json"
    path.write_text("-----BEGIN PRIVATE KEY-----\nnot json\n")
    assert_clean_failure(run_with_key(cli, path), str(path), "not JSON")


def test_key_of_unknown_type(cli: Cli, tmp_path: Path):
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"type": "api_key", "key": "x"}))
    assert_clean_failure(run_with_key(cli, path), str(path), "api_key")


def test_authorized_user_without_impersonation_names_the_way_out(
    cli: Cli, emulator: Emulator, tmp_path: Path
):
    path = emulator.write_authorized_user_file(tmp_path / "adc.json")
    result = cli(*sa_args(), GOOGLE_APPLICATION_CREDENTIALS=str(path))
    assert_clean_failure(
        result, str(path), "generate-user-id-token", "--impersonate_service_account"
    )
    assert json.loads(path.read_text())["refresh_token"] not in result.stderr


def test_broken_private_key(cli: Cli, emulator: Emulator, tmp_path: Path):
    path = emulator.write_service_account_key(tmp_path / "key.json")
    info = json.loads(path.read_text())
    body = info["private_key"].splitlines()
    info["private_key"] = "\n".join(body[:3] + body[10:]) + "\n"
    path.write_text(json.dumps(info))
    result = run_with_key(cli, path)
    assert_clean_failure(result, str(path), "private key")
    assert body[2] not in result.stderr


def test_revoked_key(cli: Cli, emulator: Emulator, tmp_path: Path):
    path = emulator.write_service_account_key(tmp_path / "key.json")
    emulator.revoke_service_account_key(json.loads(path.read_text())["private_key_id"])
    result = run_with_key(cli, path)
    assert_clean_failure(result, "invalid_grant", emulator.config.service_account_email, str(path))
    assert emulator.count("token") == 1


def test_unknown_service_account_to_impersonate(cli: Cli, emulator: Emulator, tmp_path: Path):
    key = emulator.write_service_account_key(tmp_path / "key.json")
    ghost = "nobody@emulator-project.iam.gserviceaccount.com"
    result = cli(
        *sa_args(key=key, impersonate=ghost),
    )
    assert_clean_failure(result, ghost, "NOT_FOUND")
    assert emulator.count("iam_id_token") == 1


def test_not_an_email_to_impersonate(cli: Cli):
    result = cli(*sa_args(impersonate="deployer"))
    assert_clean_failure(result, "deployer")


def test_metadata_server_that_refuses(cli: Cli):
    result = cli(*sa_args(), GCE_METADATA_HOST="127.0.0.1:9")
    assert_clean_failure(result, "127.0.0.1:9", "GCE_METADATA_HOST")


def test_plain_http_to_a_remote_host_is_refused(cli: Cli, emulator: Emulator, tmp_path: Path):
    key = emulator.write_service_account_key(tmp_path / "key.json")
    result = cli(
        *sa_args(key=key, impersonate=emulator.config.impersonation_targets[0]),
        FLYTE_IAP_IAM_CREDENTIALS_URI="http://iam.example.com",
    )
    assert_clean_failure(result, "FLYTE_IAP_IAM_CREDENTIALS_URI", "https://")


def test_missing_required_option(cli: Cli):
    result = cli(SA)
    assert_clean_failure(result, "--webapp_client_id", "--help")
    assert result.returncode == 2


def test_unknown_option_and_bad_margin(cli: Cli):
    assert_clean_failure(cli(*sa_args(), "--bogus"), "--bogus")
    result = cli(*sa_args(), "--refresh_margin", "-5")
    assert_clean_failure(result, "--refresh_margin")
    assert result.returncode == 2
