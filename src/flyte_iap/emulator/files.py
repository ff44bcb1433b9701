"""The credential files Google tools write, pointed at the emulator's URLs."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from flyte_iap.emulator.keys import SigningKey
from flyte_iap.emulator.tokens import numeric_id

FEDERATION_AUDIENCE = (
    "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gh"
)
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def write_json(path: Path, info: dict[str, Any]) -> Path:
    """Write ``info`` as JSON to a file only its owner can read (it may hold a private key)."""
    return write_private(path, json.dumps(info, indent=2) + "\n")


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (mode 0600), replacing whatever is there, never through it.

    The text goes to a new name (``O_CREAT|O_EXCL|O_NOFOLLOW``) in the same directory,
    opened once, and is then renamed over ``path``: a symlink someone planted at either
    name is replaced, never followed into a file of the user's.
    """
    return _write(path, text, 0o600)


def write_public(path: Path, text: str) -> Path:
    """Write ``text`` (a certificate, nothing secret) to ``path`` as :func:`write_private`
    does, readable by all (mode 0644, less what the umask takes away)."""
    return _write(path, text, 0o644)


def _write(path: Path, text: str, mode: int) -> Path:
    path = Path(path)
    at = _open_directory(path.parent)
    temp = f".{path.name}.{secrets.token_hex(8)}.tmp"
    # Names relative to the directory's descriptor; full paths where there is none.
    source = temp if at is not None else str(path.parent / temp)
    target = path.name if at is not None else str(path)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(source, flags, mode, dir_fd=at)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(source, target, src_dir_fd=at, dst_dir_fd=at)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(source, dir_fd=at)
            raise
    finally:
        if at is not None:
            os.close(at)
    return path


def _open_directory(path: Path) -> int | None:
    """A descriptor of the directory, so both names resolve in the same one; None on
    Windows, which has no ``dir_fd``."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        return None
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


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
