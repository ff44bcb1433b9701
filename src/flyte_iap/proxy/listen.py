"""Where the proxy listens, and the one address it may print.

Clients are told ``http://localhost:PORT`` (the Flyte 2 SDK takes an org from a host of
more than two labels, so ``127.0.0.1`` would not do). ``localhost`` resolves to
127.0.0.1, to ::1, or to both in either order, so the name is printed only when the
proxy holds that port on both loopback addresses: any other local user may bind
``[::1]:PORT`` first, and a client that resolves localhost to ::1 would hand its
requests to that program. So for :data:`LOCALHOST` (``--listen localhost:P`` or
``127.0.0.1:P``, the default):

- both 127.0.0.1 and ::1 are bound on one port; when the kernel picks the port (0) and
  the other address has it taken, another port is tried for both;
- a fixed port taken on either address fails with one line: the proxy never starts
  beside a program that answers on the name it would print;
- a machine without IPv6 (nothing can listen on ::1 there) binds 127.0.0.1 alone.

Any other loopback literal (``127.0.0.5``, ``[::1]``) is bound alone and printed as it is.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from flyte_iap.errors import FlyteIapError
from flyte_iap.hosts import in_brackets

#: ``ProxySettings.host`` for both loopback addresses, advertised as ``localhost``.
LOCALHOST = "localhost"
#: How many ports the kernel may pick before the proxy gives up finding one free on both.
PORT_TRIES = 16
_BACKLOG = 512
# What binding ::1 answers on a machine where IPv6 is off: nobody can listen there.
_NO_IPV6 = frozenset({errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT})

Bind = Callable[[str, int], socket.socket]


@dataclass(frozen=True)
class Listening:
    """Bound, listening sockets on one ``port``, and ``url``, the address to print."""

    sockets: list[socket.socket]
    port: int
    url: str


def listen(host: str, port: int, *, bind: Bind | None = None) -> Listening:
    """Bind ``host`` (:data:`LOCALHOST` or a loopback literal) on ``port`` (0: any).

    Raises :class:`FlyteIapError` with one line when it cannot (module docstring).
    ``bind`` makes one listening socket (a seam for tests)."""
    bind = bind or bind_socket
    if host != LOCALHOST:
        sock = _bound(bind, host, port)
        actual = sock.getsockname()[1]
        return Listening([sock], actual, f"http://{in_brackets(host)}:{actual}")
    for _ in range(PORT_TRIES if port == 0 else 1):
        v4 = _bound(bind, "127.0.0.1", port)
        actual = v4.getsockname()[1]
        try:
            v6 = bind("::1", actual)
        except OSError as exc:
            if exc.errno in _NO_IPV6:
                return Listening([v4], actual, f"http://localhost:{actual}")
            v4.close()
            if port == 0 and exc.errno == errno.EADDRINUSE:
                continue  # the kernel gave a port another program holds on ::1
            raise FlyteIapError(
                f"cannot listen on [::1]:{actual}: {exc.strerror or exc} (another program "
                f"holds it, and clients that resolve localhost to ::1 would reach that "
                f"program, not the proxy): choose another port"
            ) from exc
        return Listening([v4, v6], actual, f"http://localhost:{actual}")
    raise FlyteIapError(
        f"cannot listen on localhost: {PORT_TRIES} ports in a row were taken on ::1 by "
        "other programs; choose a port with --listen localhost:PORT"
    )


def _bound(bind: Bind, host: str, port: int) -> socket.socket:
    try:
        return bind(host, port)
    except OSError as exc:
        where = f"{in_brackets(host)}:{port}"
        raise FlyteIapError(f"cannot listen on {where}: {exc.strerror or exc}") from exc


def bind_socket(host: str, port: int) -> socket.socket:
    """A non-blocking socket listening on (``host``, ``port``); OSError when it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        _exclusive(sock)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _exclusive(sock: socket.socket) -> None:
    """A port of our own: on POSIX, SO_REUSEADDR only lets a restart reuse a port whose
    old connections linger (TIME_WAIT); on Windows it would let another program bind the
    same port, so there the socket asks for exclusive use instead."""
    if os.name == "posix":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    elif hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
