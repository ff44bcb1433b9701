"""The Google endpoints in use, read from the environment.

See docs/design.md, "Endpoints and environment".

The environment is passed in, never read at import time, so one call can be
pointed elsewhere (Private Service Connect, the emulator, a test).
"""

from __future__ import annotations

from flyte_iap.errors import UsageError, shown
from flyte_iap.google.adc import metadata_host
from flyte_iap.hosts import is_loopback, split_authority

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


def check_url(url: str, *, source: str) -> str:
    """Return ``url`` if it is https, or http to a loopback host; else raise UsageError.

    ``source`` names where the URL came from (a variable, a key file). The host judged
    is the one the transport will connect to, and anything two parsers may read
    differently (a backslash, a user name before ``@``, spaces or control characters,
    anything but ``HOST[:PORT]`` before the path) is refused outright. See
    docs/design.md, "Endpoints and environment".
    """
    problem = url_problem(url)
    if problem is None:
        return url
    # A user name or password is not echoed: it may be a secret.
    quoted = "" if problem == _USERINFO else f" is '{shown(url)}'"
    raise UsageError(
        f"{source}{quoted}: {problem}; use an https:// URL (http:// is allowed only to "
        "localhost, 127.x.x.x or [::1])"
    )


_USERINFO = "it has a user name or password (before '@') in it"


def url_problem(url: str) -> str | None:
    """What makes ``url`` unfit to send a credential to, or None if it is fit.

    After the scheme comes exactly ``HOST[:PORT]`` (:func:`flyte_iap.hosts.split_authority`)
    before any path, and the host judged is the one ``urllib.parse.urlsplit`` finds,
    the parser the transport connects with: the two must agree."""
    from urllib.parse import urlsplit

    if any(not " " < c < "\x7f" for c in url):
        return "it has a space, a control character or a non-ASCII character in it"
    if "\\" in url:
        return "it has a backslash in it, which URL parsers read differently"
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https") or not url.lower().startswith(f"{scheme}://"):
        return "it is not an http:// or https:// URL"
    authority = url[len(scheme) + 3 :].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority:
        return _USERINFO
    if not authority:
        return "it has no host"
    found = split_authority(authority)
    try:
        split = urlsplit(url)
        split_port = split.port
    except ValueError:
        return "it is not a valid URL"
    if found is None:
        return "it is not a valid URL"
    host, port_text, bracketed = found
    if (split.hostname or "") != host.lower() or split_port != (
        int(port_text) if port_text else None
    ):
        return "URL parsers disagree on its host"
    literal = f"[{host}]" if bracketed else host
    if scheme == "http" and not is_loopback(literal):
        return f"http:// to {shown(literal)} is not allowed"
    return None


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
