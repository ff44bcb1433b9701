"""Tokens in the tests: the emulator's identities and the options that ask for a token,
google-auth's verdict on a token it issued, and tokens signed by a key of the test's own.

Constants come from the package (the emulator's own configuration, the CLI's own
command names), never re-declared here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import google.auth.transport.requests
from google.oauth2 import id_token

from flyte_iap.cli.options import SERVICE_ACCOUNT_TOKEN_COMMAND, USER_TOKEN_COMMAND
from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.emulator.keys import SigningKey

from .stub_server import Reply

CONFIG = EmulatorConfig()
AUD = CONFIG.webapp_client_id
SA = SERVICE_ACCOUNT_TOKEN_COMMAND
USER = USER_TOKEN_COMMAND
GOOGLE_ISSUER = "https://accounts.google.com"


# --- asking for one -------------------------------------------------------------------------
def sa_args(
    *extra: str, key: Path | str | None = None, impersonate: str | None = None
) -> list[str]:
    """``generate-service-account-id-token --webapp_client_id AUD [--service_account_key K]
    [--impersonate_service_account E] EXTRA...``."""
    args = [SA, "--webapp_client_id", AUD]
    if key is not None:
        args += ["--service_account_key", str(key)]
    if impersonate is not None:
        args += ["--impersonate_service_account", impersonate]
    return [*args, *extra]


def user_args(emu: Emulator, *extra: str) -> list[str]:
    """The options of a person's login with the emulator's clients and secret."""
    c = emu.config
    return [
        "--desktop_client_id",
        c.desktop_client_id,
        "--desktop_client_secret_gcp_secret_name",
        c.desktop_secret_name,
        "--webapp_client_id",
        c.webapp_client_id,
        "--project",
        c.project,
        *extra,
    ]


def user_grants(emu: Emulator) -> list[str]:
    """grant_type of each request to the token endpoint made for the person (not the ADC)."""
    kinds = ("authorization_code", "refresh_token")
    return [
        p["grant_type"]
        for name, p in emu.requests_log
        if name == "token" and p.get("grant_type") in kinds
    ]


# --- verdicts -------------------------------------------------------------------------------
def verify(
    emu: Emulator,
    token: str,
    email: str | None = None,
    *,
    audience: str = AUD,
    azp: str | None = None,
) -> dict[str, Any]:
    """google-auth's check of ``token`` (signature against the emulator's certs, expiry,
    audience), then Google's issuer and, when given, the email and azp; the claims."""
    claims = id_token.verify_token(
        token, google.auth.transport.requests.Request(), audience=audience, certs_url=emu.certs_uri
    )
    assert claims["aud"] == audience
    assert claims["iss"] == GOOGLE_ISSUER
    if email is not None:
        assert claims["email"] == email
    if azp is not None:
        assert claims["azp"] == azp
    return dict(claims)


def verify_user_token(emu: Emulator, token: str) -> dict[str, Any]:
    """A person's token: for the webapp client, authorized by the desktop client."""
    c = emu.config
    return verify(emu, token, c.user_email, audience=c.webapp_client_id, azp=c.desktop_client_id)


# --- signed by a key of the test's own ------------------------------------------------------
def signed(key: SigningKey, **changes: Any) -> str:
    """A token as Google would sign it for AUD, with ``changes`` to its claims (None drops one)."""
    now = int(time.time())
    claims = {"iss": GOOGLE_ISSUER, "aud": AUD, "iat": now, "exp": now + 3600, **changes}
    return key.sign_jwt({k: v for k, v in claims.items() if v is not None})


def v1_certs(*keys: SigningKey) -> Reply:
    """What https://www.googleapis.com/oauth2/v1/certs answers: {kid: x509 PEM}."""
    return Reply.json({k.kid: k.certificate_pem() for k in keys})
