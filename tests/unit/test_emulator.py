"""The Google emulator, exercised over real HTTP with requests and google-auth."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google.auth.crypt
import google.auth.jwt
import pytest
import requests
from google.auth import exceptions, identity_pool
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from flyte_iap.emulator import Emulator, EmulatorConfig, run_emulator

from ..tokens import AUD, CONFIG, verify

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
TARGET = CONFIG.impersonation_targets[0]


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(auto_approve=True), state_dir=tmp_path) as emulator:
        yield emulator


@pytest.fixture
def key_file(emu: Emulator, tmp_path: Path) -> Path:
    return emu.write_service_account_key(tmp_path / "sa.json")


def assertion(key_file: Path, **claims: Any) -> str:
    info = json.loads(key_file.read_text())
    signer = google.auth.crypt.RSASigner.from_service_account_info(info)
    now = int(time.time())
    payload = {"iss": info["client_email"], "aud": info["token_uri"], "iat": now, "exp": now + 600}
    payload.update(claims)
    return google.auth.jwt.encode(signer, payload).decode("ascii")


def jwt_grant(emu: Emulator, token: str) -> requests.Response:
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    return requests.post(emu.token_uri, data={"grant_type": grant, "assertion": token}, timeout=5)


def bearer(key_file: Path) -> dict[str, str]:
    creds = service_account.Credentials.from_service_account_file(
        str(key_file), scopes=[CLOUD_PLATFORM]
    )
    creds.refresh(Request())
    return {"Authorization": f"Bearer {creds.token}"}


# --- service-account keys ---------------------------------------------------------


def test_jwt_bearer_exchange_gives_verifiable_id_token(emu: Emulator, key_file: Path) -> None:
    response = jwt_grant(emu, assertion(key_file, target_audience=AUD))
    assert response.status_code == 200
    assert response.headers["Metadata-Flavor"] == "Google"
    claims = verify(emu, response.json()["id_token"])
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["aud"] == AUD
    assert claims["email"] == emu.config.service_account_email
    assert claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == emu.config.token_lifetime


def test_google_auth_id_token_credentials_refresh(emu: Emulator, key_file: Path) -> None:
    creds = service_account.IDTokenCredentials.from_service_account_file(
        str(key_file), target_audience=AUD
    )
    creds.refresh(Request())
    assert verify(emu, creds.token)["email"] == emu.config.service_account_email
    assert emu.count("token") == 1


def test_revoked_key_gets_invalid_grant(emu: Emulator, key_file: Path) -> None:
    emu.revoke_service_account_key(json.loads(key_file.read_text())["private_key_id"])
    response = jwt_grant(emu, assertion(key_file, target_audience=AUD))
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }
    creds = service_account.IDTokenCredentials.from_service_account_file(
        str(key_file), target_audience=AUD
    )
    with pytest.raises(exceptions.RefreshError, match="invalid_grant"):
        creds.refresh(Request())


def test_key_of_another_emulator_is_refused(emu: Emulator, tmp_path: Path) -> None:
    with Emulator() as other:
        foreign = other.write_service_account_key(tmp_path / "foreign.json")
    token = assertion(foreign, aud=emu.token_uri, target_audience=AUD)
    assert jwt_grant(emu, token).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"aud": "https://example.com/token"}, "invalid_grant"),
        ({"exp": int(time.time()) - 10}, "invalid_grant"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant"),
        ({}, "invalid_scope"),
    ],
)
def test_bad_assertions_are_refused(
    emu: Emulator, key_file: Path, claims: dict[str, Any], error: str
) -> None:
    response = jwt_grant(emu, assertion(key_file, **claims))
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_malformed_assertion_is_invalid_request(emu: Emulator) -> None:
    response = jwt_grant(emu, "not-a-jwt")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_scoped_assertion_gives_access_token(emu: Emulator, key_file: Path) -> None:
    body = jwt_grant(emu, assertion(key_file, scope=CLOUD_PLATFORM)).json()
    assert body["access_token"].startswith("ya29.emu-")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == emu.config.token_lifetime


# --- metadata server ---------------------------------------------------------------


def test_metadata_identity(emu: Emulator) -> None:
    base = f"http://{emu.metadata_host}/computeMetadata/v1/instance/service-accounts/default"
    flavor = {"Metadata-Flavor": "Google"}
    response = requests.get(
        f"{base}/identity", params={"audience": AUD, "format": "full"}, headers=flavor, timeout=5
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert verify(emu, response.text)["email"] == emu.config.metadata_email
    assert requests.get(f"{base}/identity", params={"audience": AUD}, timeout=5).status_code == 403
    assert requests.get(f"{base}/identity", headers=flavor, timeout=5).status_code == 400
    assert (
        requests.get(f"{base}/email", headers=flavor, timeout=5).text == emu.config.metadata_email
    )
    info = requests.get(f"{base}/", params={"recursive": "true"}, headers=flavor, timeout=5).json()
    assert info["email"] == emu.config.metadata_email
    assert info["aliases"] == ["default"]
    assert requests.get(f"{base}/token", headers=flavor, timeout=5).json()["access_token"]
    ping = requests.get(f"http://{emu.metadata_host}/", headers=flavor, timeout=5)
    assert ping.text == "ok"
    assert ping.headers["Metadata-Flavor"] == "Google"
    project = requests.get(
        f"http://{emu.metadata_host}/computeMetadata/v1/project/project-id",
        headers=flavor,
        timeout=5,
    )
    assert project.text == emu.config.project
    assert emu.count("metadata_identity") == 3


# --- IAM Credentials and Secret Manager ----------------------------------------------


def test_generate_id_token(emu: Emulator, key_file: Path) -> None:
    url = f"{emu.iam_credentials_uri}/v1/projects/-/serviceAccounts/{TARGET}:generateIdToken"
    headers = bearer(key_file)
    ok = requests.post(
        url, json={"audience": AUD, "includeEmail": True}, headers=headers, timeout=5
    )
    assert ok.status_code == 200
    assert verify(emu, ok.json()["token"])["email"] == TARGET
    no_email = requests.post(url, json={"audience": AUD}, headers=headers, timeout=5)
    assert "email" not in verify(emu, no_email.json()["token"])

    unknown = url.replace(TARGET, "nobody@emulator-project.iam.gserviceaccount.com")
    missing = requests.post(unknown, json={"audience": AUD}, headers=headers, timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"

    anonymous = requests.post(url, json={"audience": AUD}, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"
    no_audience = requests.post(url, json={}, headers=headers, timeout=5)
    assert no_audience.status_code == 400
    assert no_audience.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_secret_manager_access(emu: Emulator, key_file: Path) -> None:
    cfg = emu.config
    path = f"/v1/projects/{cfg.project}/secrets/{cfg.desktop_secret_name}/versions/latest:access"
    response = requests.get(emu.secret_manager_uri + path, headers=bearer(key_file), timeout=5)
    assert response.status_code == 200
    data = base64.b64decode(response.json()["payload"]["data"]).decode()
    assert data == cfg.desktop_client_secret

    unknown = path.replace(cfg.desktop_secret_name, "nope")
    missing = requests.get(emu.secret_manager_uri + unknown, headers=bearer(key_file), timeout=5)
    assert missing.status_code == 404
    assert "projects/emulator-project/secrets/nope" in missing.json()["error"]["message"]
    assert requests.get(emu.secret_manager_uri + path, timeout=5).status_code == 401


def test_access_tokens_expire(tmp_path: Path) -> None:
    now = [time.time()]  # the emulator's clock, moved on by the test
    with Emulator(EmulatorConfig(token_lifetime=60), clock=lambda: now[0]) as emu:
        key_file = emu.write_service_account_key(tmp_path / "sa.json")
        headers = bearer(key_file)
        cfg = emu.config
        url = (
            f"{emu.secret_manager_uri}/v1/projects/{cfg.project}/secrets/"
            f"{cfg.desktop_secret_name}/versions/latest:access"
        )
        now[0] += 59
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
        now[0] += 1
        assert requests.get(url, headers=headers, timeout=5).status_code == 401


# --- fault injection and admin ------------------------------------------------------


def test_fail_next_then_success(emu: Emulator, key_file: Path) -> None:
    emu.fail_next("token", 500)
    token = assertion(key_file, target_audience=AUD)
    failed = jwt_grant(emu, token)
    assert failed.status_code == 500
    assert failed.json()["error"] == "internal_failure"
    assert jwt_grant(emu, token).status_code == 200
    assert emu.count("token") == 2


def test_fail_next_drop_and_delay(emu: Emulator) -> None:
    emu.fail_next("certs", 0)
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.certs_uri, timeout=5)
    emu.fail_next("certs", 503, delay=0.3)
    started = time.monotonic()
    assert requests.get(emu.certs_uri, timeout=5).status_code == 503
    assert time.monotonic() - started >= 0.3  # the delay was slept (load only adds to it)
    assert requests.get(emu.certs_uri, timeout=5).status_code == 200
    with pytest.raises(ValueError, match="unknown endpoint"):
        emu.fail_next("tokens", 500)


def test_admin_over_http(emu: Emulator, key_file: Path) -> None:
    fail = {"endpoint": "token", "status": 429, "count": 2}
    assert requests.post(f"{emu.url}/_emulator/fail", json=fail, timeout=5).status_code == 200
    token = assertion(key_file, target_audience=AUD)
    assert [jwt_grant(emu, token).status_code for _ in range(3)] == [429, 429, 200]
    stats = requests.get(f"{emu.url}/_emulator/stats", timeout=5).json()
    assert stats["counts"]["token"] == 3

    kid = json.loads(key_file.read_text())["private_key_id"]
    revoked = requests.post(f"{emu.url}/_emulator/revoke-key", json={"key_id": kid}, timeout=5)
    assert revoked.status_code == 200
    assert jwt_grant(emu, token).json()["error"] == "invalid_grant"


def test_truncated_request_is_not_counted(emu: Emulator) -> None:
    host, port = emu.metadata_host.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    assert requests.get(emu.certs_uri, timeout=5).status_code == 200
    assert emu.count("token") == 0


def test_unknown_path_is_json_404(emu: Emulator) -> None:
    response = requests.get(f"{emu.url}/nope", timeout=5)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404
    assert response.headers["Metadata-Flavor"] == "Google"


# --- the user flow ---------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(emu: Emulator, challenge: str, **extra: str) -> requests.Response:
    params = {
        "client_id": emu.config.desktop_client_id,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "response_type": "code",
        "scope": "openid email",
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
    }
    params.update(extra)
    return requests.get(emu.auth_uri, params=params, allow_redirects=False, timeout=5)


def redirect_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert location.netloc == "127.0.0.1:8765"
    return dict(urllib.parse.parse_qsl(location.query))


def exchange(emu: Emulator, code: str, verifier: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "client_id": emu.config.desktop_client_id,
        "client_secret": emu.config.desktop_client_secret,
        "audience": AUD,
    }
    return requests.post(emu.token_uri, data=data, timeout=5)


def test_pkce_authorization_code_flow(emu: Emulator) -> None:
    verifier, challenge = pkce_pair()
    params = redirect_params(authorize(emu, challenge, nonce="n-1"))
    assert params["state"] == "st-1"
    body = exchange(emu, params["code"], verifier).json()
    claims = verify(emu, body["id_token"])
    assert (claims["aud"], claims["azp"]) == (AUD, emu.config.desktop_client_id)
    assert claims["email"] == emu.config.user_email
    assert claims["nonce"] == "n-1"
    assert body["refresh_token"]
    reused = exchange(emu, params["code"], verifier)
    assert reused.json()["error"] == "invalid_grant"

    other = redirect_params(authorize(emu, challenge))["code"]
    wrong = exchange(emu, other, "x" * 50)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


def test_auth_endpoint_rejects_bad_requests(emu: Emulator) -> None:
    _, challenge = pkce_pair()
    no_pkce = authorize(emu, "")
    assert no_pkce.status_code == 400
    assert "PKCE" in no_pkce.text
    unknown = authorize(emu, challenge, client_id="nobody.apps.googleusercontent.com")
    assert unknown.status_code == 400
    assert "invalid_client" in unknown.text
    remote = authorize(emu, challenge, redirect_uri="https://evil.example/cb")
    assert remote.status_code == 400


def test_consent_page_allow_and_deny(tmp_path: Path) -> None:
    with Emulator() as emu:
        _, challenge = pkce_pair()
        page = authorize(emu, challenge)
        assert page.status_code == 200
        assert emu.config.user_email in page.text
        assert '<button id="allow"' in page.text and '<button id="deny"' in page.text
        request_id = page.text.split('name="request_id" value="')[1].split('"')[0]
        decision = f"{emu.url}/o/oauth2/v2/auth/decision"
        allow = {"request_id": request_id, "decision": "allow"}
        allowed = redirect_params(
            requests.post(decision, data=allow, allow_redirects=False, timeout=5)
        )
        assert allowed["code"] and allowed["state"] == "st-1"
        again = requests.post(decision, data=allow, allow_redirects=False, timeout=5)
        assert again.status_code == 400

        second = authorize(emu, challenge).text.split('name="request_id" value="')[1].split('"')[0]
        deny = {"request_id": second, "decision": "deny"}
        denied = redirect_params(
            requests.post(decision, data=deny, allow_redirects=False, timeout=5)
        )
        assert denied == {"error": "access_denied", "state": "st-1"}
        assert (emu.count("auth"), emu.count("consent")) == (2, 3)


def refresh(emu: Emulator, token: str, **extra: str) -> requests.Response:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": emu.config.desktop_client_id,
        "client_secret": emu.config.desktop_client_secret,
    }
    data.update(extra)
    return requests.post(emu.token_uri, data=data, timeout=5)


def test_refresh_grant_with_audience(emu: Emulator) -> None:
    token = emu.add_refresh_token()
    body = refresh(emu, token, audience=AUD).json()
    claims = verify(emu, body["id_token"])
    assert (claims["aud"], claims["azp"]) == (AUD, emu.config.desktop_client_id)
    assert body["access_token"].startswith("ya29.")
    plain = refresh(emu, token).json()
    assert (
        verify(emu, plain["id_token"], audience=emu.config.desktop_client_id)["email"]
        == "ada@example.com"
    )

    wrong_secret = refresh(emu, token, client_secret="nope")
    assert wrong_secret.status_code == 401
    assert wrong_secret.json() == {"error": "invalid_client", "error_description": "Unauthorized"}
    unknown = refresh(emu, "1//not-a-token")
    assert unknown.json()["error_description"] == "Token has been expired or revoked."


def test_authorized_user_file_refreshes_with_its_own_client(emu: Emulator, tmp_path: Path) -> None:
    info = json.loads(emu.write_authorized_user_file(tmp_path / "adc.json").read_text())
    assert info["type"] == "authorized_user"
    assert info["token_uri"] == emu.token_uri
    response = refresh(
        emu, info["refresh_token"], client_id=info["client_id"], client_secret=info["client_secret"]
    )
    assert response.status_code == 200
    # Issued to the ADC client, so the desktop client may not use it.
    mismatch = refresh(emu, info["refresh_token"])
    assert mismatch.status_code == 400


def test_revoke(emu: Emulator) -> None:
    token = emu.add_refresh_token()
    first = requests.post(emu.revoke_uri, data={"token": token}, timeout=5)
    assert (first.status_code, first.json()) == (200, {})
    second = requests.post(emu.revoke_uri, data={"token": token}, timeout=5)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_token"
    assert refresh(emu, token).json()["error"] == "invalid_grant"


def test_requests_log_redacts_secrets(emu: Emulator) -> None:
    token = emu.add_refresh_token()
    refresh(emu, token, audience=AUD)
    name, params = emu.requests_log[-1]
    assert name == "token"
    assert params["audience"] == AUD
    assert params["client_secret"] == "<redacted>"
    assert token not in repr(emu.requests_log)


# --- workload identity federation -----------------------------------------------------


def test_sts_exchange_through_google_auth(emu: Emulator, tmp_path: Path) -> None:
    path = emu.write_external_account_file(tmp_path / "wif.json")
    creds = identity_pool.Credentials.from_info(
        json.loads(path.read_text()), scopes=[CLOUD_PLATFORM]
    )
    creds.refresh(Request())
    assert creds.token.startswith("ya29.emu-fed-")
    assert emu.count("sts") == 1
    _, params = emu.requests_log[-1]
    assert params["subject_token"] == "<redacted>"


def test_sts_with_impersonation_then_generate_id_token(emu: Emulator, tmp_path: Path) -> None:
    path = emu.write_external_account_file(tmp_path / "wif.json", impersonation_email=TARGET)
    creds = identity_pool.Credentials.from_info(
        json.loads(path.read_text()), scopes=[CLOUD_PLATFORM]
    )
    creds.refresh(Request())
    assert emu.count("iam_access_token") == 1
    url = f"{emu.iam_credentials_uri}/v1/projects/-/serviceAccounts/{TARGET}:generateIdToken"
    response = requests.post(
        url,
        json={"audience": AUD, "includeEmail": True},
        headers={"Authorization": f"Bearer {creds.token}"},
        timeout=5,
    )
    assert verify(emu, response.json()["token"])["email"] == TARGET


def test_sts_refuses_unknown_subject_token(emu: Emulator, tmp_path: Path) -> None:
    path = emu.write_external_account_file(tmp_path / "wif.json")
    info = json.loads(path.read_text())
    Path(info["credential_source"]["file"]).write_text("forged.subject.token")
    creds = identity_pool.Credentials.from_info(info, scopes=[CLOUD_PLATFORM])
    with pytest.raises(exceptions.OAuthError, match="invalid_grant"):
        creds.refresh(Request())


# --- run_emulator ------------------------------------------------------------------------


def test_run_emulator_writes_files_and_exports(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_emulator(0, tmp_path, True, 0.5, out, err) == 0
    for name in ("service-account.json", "adc-user.json", "external-account.json"):
        assert (tmp_path / name).is_file()
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in out.getvalue().splitlines()
        if line.startswith("export ")
    )
    assert exports["GOOGLE_APPLICATION_CREDENTIALS"] == f"'{tmp_path}/service-account.json'"
    assert exports["GCE_METADATA_HOST"] == exports["GCE_METADATA_IP"]
    assert exports["FLYTE_IAP_TOKEN_URI"].endswith("/token'")
    assert "# webapp client id: emulator-webapp.apps.googleusercontent.com" in out.getvalue()
    assert "serving on http://127.0.0.1:" in err.getvalue()
    key = json.loads((tmp_path / "service-account.json").read_text())
    assert key["token_uri"] == exports["FLYTE_IAP_TOKEN_URI"].strip("'")
    with pytest.raises(requests.ConnectionError):
        requests.get(key["token_uri"].removesuffix("/token") + "/", timeout=2)
