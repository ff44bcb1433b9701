"""Whether a host names this machine: the one loopback rule of the whole tool.

A credential may travel over plain HTTP, and the proxy may listen, only where the host
is this machine by its very name. Every place that decides so asks :func:`is_loopback`:
the Google endpoint URLs (``google.endpoints``), a Flyte ``admin.endpoint``
(``flyteconfig``: ``configure`` writes ``insecure: true`` only for one, ``doctor`` sends
a token over plain HTTP only to one), the proxy's ``--listen`` address.

Imports nothing of the tool: the packages that stand apart use it too.
"""

from __future__ import annotations

import re


def is_loopback(host: str) -> bool:
    """Whether ``host``, as it stands in a URL (an IPv6 address in brackets), names this
    machine by itself: ``localhost``, an IPv4 address in 127.0.0.0/8, or ``[::1]``.

    Judged on the literal, never by a prefix ("127.evil.example" is a DNS name) nor by
    resolving it; other spellings that also reach 127.0.0.1 (``127.1``, ``2130706433``,
    ``localhost.``, ``[::ffff:127.0.0.1]``, an unbracketed ``::1``) are refused rather
    than interpreted.
    """
    import ipaddress

    host = host.lower()
    if host == "localhost":
        return True
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.IPv6Address(host[1:-1]) == ipaddress.IPv6Address("::1")
        except ValueError:  # not an address, or one with a zone (%eth0)
            return False
    try:
        return ipaddress.IPv4Address(host) in ipaddress.IPv4Network("127.0.0.0/8")
    except ValueError:
        return False


# HOST[:PORT] exactly: a name or IPv4 address of letters, digits, dots, dashes and
# underscores, or an IPv6 address in brackets; nothing two parsers could read otherwise.
_HOST_PORT = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>[0-9]{0,5}))?"
)


def split_authority(text: str) -> tuple[str, str | None, bool] | None:
    """``HOST[:PORT]`` as (host, port digits or None, whether the host was in brackets);
    None for anything else (a user name, a path, text after ``]``, an escape)."""
    found = _HOST_PORT.fullmatch(text)
    if found is None:
        return None
    port = found["port"] or None  # "HOST:" is HOST: the default port
    if found["ipv6"] is not None:
        return found["ipv6"], port, True
    return found["name"], port, False


def in_brackets(host: str) -> str:
    """``host`` as it is written before ``:PORT``: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
