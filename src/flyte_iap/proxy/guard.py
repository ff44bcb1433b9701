"""What the proxy refuses (403) without contacting the upstream.

It hands a credential to whoever connects, so it serves programs on this machine
only: a request must name the proxy itself as ``Host`` (else a web page could reach
it through a DNS name rebound to 127.0.0.1), must carry neither ``Origin`` nor any
``Sec-Fetch-*`` header (every request a browser makes has one of them: fetch, form
posts, navigations, images, the favicon; the programs this serves send neither), and
must be in origin form (``/path``): no absolute-URI proxying, no ``CONNECT``.
"""

from __future__ import annotations

from collections.abc import Iterable

from flyte_iap.hosts import in_brackets
from flyte_iap.proxy.listen import LOCALHOST


def own_hosts(listen_host: str, port: int) -> frozenset[str]:
    """The ``Host`` values that name the proxy: ``localhost:PORT`` and the addresses it
    listens on (both loopback addresses for :data:`~flyte_iap.proxy.listen.LOCALHOST`)."""
    if listen_host == LOCALHOST:
        names = {"localhost", "127.0.0.1", "[::1]"}
    else:
        names = {"localhost", in_brackets(listen_host).lower()}
    return frozenset(f"{name}:{port}" for name in names)


def refusal(
    method: str, target: str, hosts: list[str], header_names: Iterable[str], own: frozenset[str]
) -> str | None:
    """Why the request is refused, or None to forward it. ``hosts``: every ``Host``
    value it carried; ``header_names``: the names of all its headers."""
    if method.upper() == "CONNECT":
        return "CONNECT is not served: this proxy forwards to its upstream only"
    if not target.startswith("/"):
        return "only a path is served (no absolute URI): this proxy forwards to its upstream only"
    for name in header_names:
        lowered = name.lower()
        if lowered == "origin" or lowered.startswith("sec-fetch-"):
            return "a request from a web browser is refused: this proxy serves programs only"
    if len(hosts) != 1 or hosts[0].lower() not in own:
        return "the Host is not this proxy's address (use http://localhost:PORT)"
    return None
