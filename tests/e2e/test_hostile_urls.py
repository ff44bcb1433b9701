"""Credentials never go where the https-or-loopback rule says they must not, and
google-auth's words, which may quote a token, never reach stderr.

A StubServer on 127.0.0.1 stands in for the attacker's host. Each hostile URL reaches
it on yesterday's code (the check judged one host, requests connected to another, or a
name was taken for loopback by its prefix); now the CLI refuses the URL with a usage
error and the stub receives nothing at all, so no secret reached it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator

from ..cli import Cli, assert_clean_failure
from ..stub_server import Reply, StubServer
from ..tokens import sa_args

TARGET_PATH = "/v1/projects/-/serviceAccounts/{}:generateAccessToken"
SECRET_PASSWORD = "pw-in-the-url"
#: An account that a federated identity impersonates as a caller: never reached here.
OTHER = "someone-else@example-project.iam.gserviceaccount.com"


def hostile_urls(port: int) -> dict[str, str]:
    """URLs whose requests land on 127.0.0.1:``port`` although no check should pass them."""
    return {
        # urlsplit reads the host after the backslash (127.0.0.2); urllib3 connects to
        # the one before it.
        "backslash": f"http://127.0.0.1:{port}\\@127.0.0.2/token",
        # The same, to a spelling of 127.0.0.1 the check never accepted on its own.
        "backslash-decimal": f"http://2130706433:{port}\\@127.0.0.1/token",
        # A name judged by its "127." prefix, like 127.evil.example; this one resolves.
        "prefix": f"http://127.1:{port}/token",
        # A user name and password: sent as Basic auth, and refused outright.
        "userinfo": f"http://user:{SECRET_PASSWORD}@127.0.0.1:{port}/token",
    }


def _key_file(emulator: Emulator, path: Path, token_uri: str) -> Path:
    key = emulator.write_service_account_key(path)
    info = json.loads(key.read_text())
    info["token_uri"] = token_uri
    key.write_text(json.dumps(info))
    return key


def _federation_file(path: Path, token_url: str, impersonation_url: str | None = None) -> Path:
    subject = path.with_name("subject-token")
    subject.write_text("the-subject-token-of-ci")
    info = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/"
        "providers/gh",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": token_url,
        "credential_source": {"file": str(subject)},
    }
    if impersonation_url:
        info["service_account_impersonation_url"] = impersonation_url
    path.write_text(json.dumps(info))
    return path


#: (arguments, environment, the source the refusal names) for a URL at one place.
Plan = tuple[list[str], dict[str, str], str]
Sink = Callable[[Emulator, Path, str], Plan]


def _env_token_uri(emu: Emulator, tmp: Path, url: str) -> Plan:
    """A person's ADC refreshed at FLYTE_IAP_TOKEN_URI: its refresh token and secret."""
    adc = emu.write_authorized_user_file(tmp / "adc.json")
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(adc), "FLYTE_IAP_TOKEN_URI": url}
    return sa_args(impersonate=emu.config.impersonation_targets[0]), env, "FLYTE_IAP_TOKEN_URI"


def _env_iam_uri(emu: Emulator, tmp: Path, url: str) -> Plan:
    """Impersonation at FLYTE_IAP_IAM_CREDENTIALS_URI: the caller's access token."""
    key = emu.write_service_account_key(tmp / "key.json")
    args = sa_args(key=key, impersonate=emu.config.impersonation_targets[0])
    return args, {"FLYTE_IAP_IAM_CREDENTIALS_URI": url}, "FLYTE_IAP_IAM_CREDENTIALS_URI"


def _key_token_uri(emu: Emulator, tmp: Path, url: str) -> Plan:
    """A key file's own token_uri: the signed assertion."""
    return sa_args(key=_key_file(emu, tmp / "key.json", url)), {}, "token_uri in"


def _wif_token_url(emu: Emulator, tmp: Path, url: str) -> Plan:
    """A federation file's token_url: the CI's subject token."""
    target = emu.config.impersonation_targets[0]
    wif = _federation_file(
        tmp / "wif.json", url, emu.iam_credentials_uri + TARGET_PATH.format(target)
    )
    return sa_args(), {"GOOGLE_APPLICATION_CREDENTIALS": str(wif)}, "token_url in"


def _wif_impersonation_url(emu: Emulator, tmp: Path, url: str) -> Plan:
    """A federation file's service_account_impersonation_url: the federated access token
    (used as a caller, impersonating another account)."""
    first = emu.config.impersonation_targets[0]
    emu_file = emu.write_external_account_file(tmp / "wif.json", impersonation_email=first)
    info = json.loads(emu_file.read_text())
    info["service_account_impersonation_url"] = url.replace("/token", TARGET_PATH.format(first))
    emu_file.write_text(json.dumps(info))
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(emu_file)}
    return sa_args(impersonate=OTHER), env, "service_account_impersonation_url in"


SINKS: dict[str, Sink] = {
    "env-token-uri": _env_token_uri,
    "env-iam-credentials-uri": _env_iam_uri,
    "key-token-uri": _key_token_uri,
    "federation-token-url": _wif_token_url,
    "federation-impersonation-url": _wif_impersonation_url,
}


@pytest.mark.parametrize("kind", list(hostile_urls(0)))
@pytest.mark.parametrize("sink", list(SINKS))
def test_a_hostile_url_is_refused_and_nothing_reaches_its_host(
    cli: Cli, emulator: Emulator, tmp_path: Path, sink: str, kind: str
) -> None:
    with StubServer(Reply.json({"error": "invalid_grant"}, 400)) as stub:
        port = int(stub.url.rsplit(":", 1)[1])
        url = hostile_urls(port)[kind]
        args, env, source = SINKS[sink](emulator, tmp_path, url)
        result = cli(*args, **env)
        assert stub.requests == []
    assert_clean_failure(result, source, "use an https:// URL")
    assert result.returncode == 2
    assert SECRET_PASSWORD not in result.stderr


def test_a_federation_token_url_over_http_to_another_host_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    # Refused before any request: no lookup of example.invalid is even tried.
    target = "sa@example-project.iam.gserviceaccount.com"
    wif = _federation_file(
        tmp_path / "wif.json",
        "http://sts.example.invalid/v1/token",
        "http://127.0.0.1:9" + TARGET_PATH.format(target),
    )
    result = cli(*sa_args(), GOOGLE_APPLICATION_CREDENTIALS=str(wif))
    assert_clean_failure(result, "token_url in", "sts.example.invalid", "is not allowed")
    assert result.returncode == 2


# --- google-auth's error text ----------------------------------------------------------
SUBJECT = "the-subject-token-of-ci"
FEDERATED = "ya29.the-federated-access-token"


def _federation(tmp_path: Path, stub: StubServer, target: str) -> Path:
    return _federation_file(
        tmp_path / "wif.json", stub.url + "/sts/v1/token", stub.url + TARGET_PATH.format(target)
    )


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_an_sts_error_quoting_the_subject_token_is_not_shown(
    cli: Cli, emulator: Emulator, tmp_path: Path, verbose: list[str]
) -> None:
    refusal = Reply.json(
        {"error": "invalid_grant", "error_description": f"subject token {SUBJECT} is expired"}, 400
    )
    with StubServer(refusal) as stub:
        target = emulator.config.impersonation_targets[0]
        wif = _federation(tmp_path, stub, target)
        result = cli(*verbose, *sa_args(), GOOGLE_APPLICATION_CREDENTIALS=str(wif))
        assert [r[1] for r in stub.requests] == ["/sts/v1/token"]
        assert SUBJECT in stub.requests[0][3].decode()  # it was sent, so could be echoed
    assert SUBJECT not in result.stderr
    assert result.returncode == 1 and result.stdout == ""
    assert "Traceback" not in result.stderr or verbose
    assert f"the STS token exchange at {stub.url.removeprefix('http://')} answered 400 " in (
        result.stderr
    )
    assert "(invalid_grant)" in result.stderr
    if not verbose:
        assert_clean_failure(result, "workload identity federation with", "audience")


@pytest.mark.parametrize("verbose", [[], ["-v"]])
@pytest.mark.parametrize(
    "body",
    [
        {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": f"{FEDERATED} denied"}},
        {"error": FEDERATED, "error_description": FEDERATED},  # the token as the "code"
        {"token": FEDERATED},
    ],
    ids=["google-api-error", "token-as-code", "no-error-field"],
)
def test_an_impersonation_error_quoting_the_federated_token_is_not_shown(
    cli: Cli, emulator: Emulator, tmp_path: Path, verbose: list[str], body: dict
) -> None:
    exchanged = Reply.json(
        {
            "access_token": FEDERATED,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": 3600,
        }
    )
    with StubServer(exchanged, Reply.json(body, 403)) as stub:
        first = emulator.config.impersonation_targets[0]
        wif = _federation(tmp_path, stub, first)
        # As a caller for another account: google-auth itself impersonates `first`.
        result = cli(*verbose, *sa_args(impersonate=OTHER), GOOGLE_APPLICATION_CREDENTIALS=str(wif))
        paths = [r[1] for r in stub.requests]
        assert paths == ["/sts/v1/token", TARGET_PATH.format(first)], paths
        sent = {name.lower(): value for name, value in stub.requests[1][2].items()}
        assert sent["authorization"] == f"Bearer {FEDERATED}"  # so it could be echoed
    assert FEDERATED not in result.stderr
    assert "the-federated-access-token" not in result.stderr
    assert result.returncode == 1 and result.stdout == ""
    assert "service account impersonation at 127.0.0.1:" in result.stderr
    assert "answered 403" in result.stderr
    if isinstance(body.get("error"), dict):
        assert "answered 403 (PERMISSION_DENIED)" in result.stderr
    else:  # no code, or one that does not look like one: the status alone
        assert "answered 403 (" not in result.stderr
    if not verbose:
        assert_clean_failure(result, "workload identity federation with", "workloadIdentityUser")
