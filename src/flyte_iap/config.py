"""The Google endpoints in use, read from the environment (SPEC §2).

The environment is passed in, never read at import time, so one call can be
pointed elsewhere (Private Service Connect, the emulator, a test).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from flyte_iap.errors import UsageError
from flyte_iap.lookup import DEFAULT_METADATA_HOST

DEFAULTS = {
    "FLYTE_IAP_AUTH_URI": "https://accounts.google.com/o/oauth2/v2/auth",
    "FLYTE_IAP_TOKEN_URI": "https://oauth2.googleapis.com/token",
    "FLYTE_IAP_SECRET_MANAGER_URI": "https://secretmanager.googleapis.com",
    "FLYTE_IAP_IAM_CREDENTIALS_URI": "https://iamcredentials.googleapis.com",
    "FLYTE_IAP_REVOKE_URI": "https://oauth2.googleapis.com/revoke",
    "FLYTE_IAP_CERTS_URI": "https://www.googleapis.com/oauth2/v1/certs",
}
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def is_loopback(host: str) -> bool:
    host = host.lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def check_url(url: str, *, source: str) -> str:
    """Return ``url`` if it is https, or http to a loopback host; else raise UsageError.

    ``source`` names where the URL came from (a variable, a key file).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))):
        return url
    raise UsageError(
        f"{source} is {url!r}: use an https:// URL (http:// is allowed only for 127.0.0.1 "
        "or localhost)"
    )


@dataclass(frozen=True)
class Endpoints:
    """Google's endpoints after overrides; see ``from_env``."""

    auth_uri: str
    token_uri: str
    secret_manager_uri: str
    iam_credentials_uri: str
    revoke_uri: str
    certs_uri: str
    metadata_host: str
    metadata_host_explicit: bool

    @property
    def metadata_root(self) -> str:
        return f"http://{self.metadata_host}/computeMetadata/v1"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Endpoints:
        """Read ``FLYTE_IAP_*_URI`` and ``GCE_METADATA_HOST`` (as google-auth does)."""
        uri = {
            name: check_url((env.get(name) or default).rstrip("/"), source=name)
            for name, default in DEFAULTS.items()
        }
        metadata_host = env.get("GCE_METADATA_HOST", "")
        return cls(
            auth_uri=uri["FLYTE_IAP_AUTH_URI"],
            token_uri=uri["FLYTE_IAP_TOKEN_URI"],
            secret_manager_uri=uri["FLYTE_IAP_SECRET_MANAGER_URI"],
            iam_credentials_uri=uri["FLYTE_IAP_IAM_CREDENTIALS_URI"],
            revoke_uri=uri["FLYTE_IAP_REVOKE_URI"],
            certs_uri=uri["FLYTE_IAP_CERTS_URI"],
            metadata_host=metadata_host or DEFAULT_METADATA_HOST,
            metadata_host_explicit=bool(metadata_host),
        )
