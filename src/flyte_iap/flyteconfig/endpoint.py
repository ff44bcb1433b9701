"""``admin.endpoint``, the one parser of it: as flytekit and flytectl spell it
(``dns:///HOST[:PORT]``, or ``HOST[:PORT]``), or as the Flyte 2 SDK takes it (an
``http(s)://`` URL), and whether it is this machine (:func:`flyte_iap.hosts.is_loopback`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flyte_iap.errors import ConfigError
from flyte_iap.hosts import in_brackets, is_loopback, split_authority

DNS = "dns:///"
_SCHEMES = (DNS, "https://", "http://")


@dataclass(frozen=True)
class Endpoint:
    """Where the backend is reached: host, port, and whether over TLS. ``scheme`` is how
    it was written: ``dns:///``, ``https://``, ``http://`` or "" (a bare ``HOST[:PORT]``)."""

    text: str
    host: str
    port: int
    tls: bool
    scheme: str = ""

    @property
    def authority(self) -> str:
        return f"{in_brackets(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.authority}"

    @property
    def loopback(self) -> bool:
        """Whether the host names this machine literally (a local stand-in, a port-forward)."""
        return is_loopback(in_brackets(self.host))


def parse_endpoint(text: str, *, insecure: bool) -> Endpoint:
    """``text`` as an Endpoint, over TLS unless ``insecure`` or ``http://``; a ConfigError
    saying what is wrong with it.

    After the scheme comes exactly ``HOST[:PORT]`` (and at most a ``/``): a name or IPv4
    address of letters, digits, dots, dashes and underscores, or an IPv6 address in
    brackets. Anything two parsers could read differently (a user name before ``@``, a
    path, a query, a backslash, text after ``]``, an escaped character) is refused, so
    that the host judged loopback is the host the token goes to.
    """
    if not isinstance(text, str) or not text or any(not " " < c < "\x7f" for c in text):
        raise ConfigError("it is empty or has spaces or control characters in it")
    rest, tls, scheme = text, not insecure, ""
    for prefix in _SCHEMES:
        if rest.lower().startswith(prefix):
            rest, scheme = rest[len(prefix) :], prefix
            tls = tls if prefix == DNS else prefix == "https://"
            break
    found = split_authority(rest[:-1] if rest.endswith("/") else rest)
    if found is None:
        raise ConfigError("it is not dns:///HOST[:PORT] (no path, user name or query)")
    host, port_text, bracketed = found
    if bracketed:
        import ipaddress

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(f"[{host}] is not an IPv6 address") from None
    port = int(port_text) if port_text else (443 if tls else 80)
    if not 0 < port < 65536:
        raise ConfigError(f"port {port_text} is not a TCP port (1-65535)")
    return Endpoint(text, host, port, tls, scheme)
