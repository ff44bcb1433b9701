"""The credential files Google tools write, pointed at the emulator's URLs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .keys import SigningKey
from .tokens import numeric_id

FEDERATION_AUDIENCE = (
    "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gh"
)
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def write_json(path: Path, info: dict[str, Any]) -> Path:
    """Write ``info`` as JSON to a file only its owner can read (it may hold a private key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
        handle.write("\n")
    return path


def service_account_key(key: SigningKey, email: str, project: str, base_url: str) -> dict[str, Any]:
    """A ``service_account`` key file, as the IAM console downloads it."""
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": key.kid,
        "private_key": key.private_key_pem(),
        "client_email": email,
        "client_id": numeric_id(email),
        "auth_uri": base_url + "/o/oauth2/v2/auth",
        "token_uri": base_url + "/token",
        "auth_provider_x509_cert_url": base_url + "/oauth2/v1/certs",
        "client_x509_cert_url": f"{base_url}/robot/v1/metadata/x509/{email}",
        "universe_domain": "googleapis.com",
    }


def authorized_user(
    client_id: str, client_secret: str, refresh_token: str, token_uri: str
) -> dict[str, Any]:
    """A person's ADC file, as ``gcloud auth application-default login`` writes it."""
    return {
        "type": "authorized_user",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }


def subject_token_claims(now: int, lifetime: int) -> dict[str, Any]:
    """Claims of a CI provider's OIDC token (GitHub Actions-like), for federation."""
    return {
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:example/flyte:ref:refs/heads/main",
        "aud": FEDERATION_AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
    }


def external_account(
    token_path: Path, sts_uri: str, impersonation_url: str | None
) -> dict[str, Any]:
    """A file-sourced workload-identity-federation configuration."""
    info: dict[str, Any] = {
        "type": "external_account",
        "audience": FEDERATION_AUDIENCE,
        "subject_token_type": JWT_TOKEN_TYPE,
        "token_url": sts_uri,
        "credential_source": {"file": str(token_path)},
    }
    if impersonation_url:
        info["service_account_impersonation_url"] = impersonation_url
    return info
