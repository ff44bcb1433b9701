"""``admin.endpoint``: how flytekit and flytectl spell it, and when it needs no TLS."""

from __future__ import annotations

import ipaddress

from flyte_iap.flyteconfig.errors import ConfigError

DNS = "dns:///"


def checked_endpoint(endpoint: str) -> str:
    """``endpoint`` if it is ``dns:///HOST[:PORT]`` or ``HOST[:PORT]``; its host:port."""
    if not endpoint or any(not c.isprintable() or c.isspace() for c in endpoint):
        raise ConfigError("--endpoint is empty or has spaces or control characters")
    hostport = endpoint[len(DNS) :] if endpoint.startswith(DNS) else endpoint
    if "/" in hostport or ":/" in hostport or not hostport:
        raise ConfigError(
            "--endpoint is a gRPC target, not a URL: write dns:///HOST or dns:///HOST:PORT"
        )
    return hostport


def is_loopback(hostport: str) -> bool:
    """Whether ``HOST[:PORT]`` names this machine literally (``localhost``, 127.0.0.0/8,
    ``[::1]``): a local stand-in or a port-forward, which speaks plain gRPC."""
    host = hostport
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
