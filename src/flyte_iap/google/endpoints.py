"""The Google endpoints in use, read from the environment.

See docs/design.md, "Endpoints and environment".

The environment is passed in, never read at import time, so one call can be
pointed elsewhere (Private Service Connect, the emulator, a test).
"""

from __future__ import annotations

from flyte_iap.errors import UsageError
from flyte_iap.google.adc import metadata_host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

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
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if host and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))):
        return url
    raise UsageError(
        f"{source} is {url!r}: use an https:// URL (http:// is allowed only for 127.0.0.1 "
        "or localhost)"
    )


class Endpoints:
    """Google's endpoints after overrides; see :meth:`from_env`."""

    __slots__ = (
        "auth_uri",
        "certs_uri",
        "iam_credentials_uri",
        "metadata_host",
        "metadata_host_explicit",
        "revoke_uri",
        "secret_manager_uri",
        "token_uri",
    )

    def __init__(self, uris: Mapping[str, str], metadata_host: str, explicit: bool) -> None:
        self.auth_uri = uris["FLYTE_IAP_AUTH_URI"]
        self.token_uri = uris["FLYTE_IAP_TOKEN_URI"]
        self.secret_manager_uri = uris["FLYTE_IAP_SECRET_MANAGER_URI"]
        self.iam_credentials_uri = uris["FLYTE_IAP_IAM_CREDENTIALS_URI"]
        self.revoke_uri = uris["FLYTE_IAP_REVOKE_URI"]
        self.certs_uri = uris["FLYTE_IAP_CERTS_URI"]
        self.metadata_host = metadata_host
        #: Set by the user: a metadata server that does not answer is then an error,
        #: not a sign that this machine is off GCP.
        self.metadata_host_explicit = explicit

    @property
    def metadata_root(self) -> str:
        return f"http://{self.metadata_host}/computeMetadata/v1"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Endpoints:
        """Read ``FLYTE_IAP_*_URI`` and ``GCE_METADATA_HOST`` (as google-auth does)."""
        uris = {
            name: check_url((env.get(name) or default).rstrip("/"), source=name)
            for name, default in DEFAULTS.items()
        }
        return cls(uris, metadata_host(env), bool(env.get("GCE_METADATA_HOST")))
