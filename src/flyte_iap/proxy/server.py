"""The proxy's server: aiohttp on loopback sockets, one pooled client to the upstream.

:class:`ProxyServer` is started and stopped on a running event loop (tests run it in
a thread); :func:`serve` is the command's whole life: serve until SIGINT or SIGTERM,
then stop accepting, let requests in flight finish (at most ``DRAIN_SECONDS``), exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from flyte_iap.console import Console
from flyte_iap.errors import FlyteIapError
from flyte_iap.hosts import in_brackets
from flyte_iap.proxy.forward import Upstream, forward, plain
from flyte_iap.proxy.guard import own_hosts, refusal
from flyte_iap.proxy.tokens import TokenProvider

DRAIN_SECONDS = 10.0
# Connecting is bounded; reading is not bounded per answer (a watch streams for hours)
# but an upstream silent this long is cut.
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_connect=10, sock_read=600)


@dataclass(frozen=True)
class ProxySettings:
    """``upstream``: a checked https URL (http only to loopback); ``host``: a loopback
    address literal to listen on; ``port`` 0 picks one."""

    upstream: str
    host: str = "127.0.0.1"
    port: int = 0
    ca_file: str | None = None
    drain_seconds: float = DRAIN_SECONDS


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verified TLS: the given CA bundle alone, else the system's CAs and certifi's."""
    if ca_file is not None:
        return ssl.create_default_context(cafile=ca_file)
    context = ssl.create_default_context()
    with contextlib.suppress(ImportError, OSError):
        import certifi

        context.load_verify_locations(certifi.where())
    return context


class ProxyServer:
    """Listens on ``settings.host`` (and on ``::1`` too for the default 127.0.0.1)."""

    def __init__(self, settings: ProxySettings, tokens: TokenProvider, console: Console) -> None:
        self.settings = settings
        self.tokens = tokens
        self.console = console
        self.port = 0
        self._runner: web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> int:
        """Bind, start accepting; the port."""
        s = self.settings
        sockets = [_bind(s.host, s.port)]
        self.port = sockets[0].getsockname()[1]
        if s.host == "127.0.0.1":
            with contextlib.suppress(FlyteIapError):  # no IPv6 here, or the port is taken there
                sockets.append(_bind("::1", self.port))
        connector = aiohttp.TCPConnector(ssl=tls_context(s.ca_file), limit=256)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=_TIMEOUT, auto_decompress=False, cookie_jar=_NoCookies()
        )
        up = Upstream(s.upstream.rstrip("/"), self._session, self.tokens, self.console)
        own = own_hosts(s.host, self.port)

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            reason = refusal(
                request.method,
                request.raw_path,
                request.headers.getall("host", []),
                request.headers.keys(),
                own,
            )
            if reason is not None:
                self.console.debug(f"refused {request.method}: {reason}")
                return plain(403, f"flyte-iap proxy: {reason}")
            return await forward(request, up)

        # Bodies pass as they came: a gzip request body (the Flyte 2 SDK sends every unary
        # call so) must not be inflated under its original Content-Length.
        server = web.Server(handle, access_log=None, auto_decompress=False)
        self._runner = web.ServerRunner(server, shutdown_timeout=s.drain_seconds)
        await self._runner.setup()
        for sock in sockets:
            await web.SockSite(self._runner, sock).start()
        return self.port

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (bounded), close the pool."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        where = f"{in_brackets(host)}:{port}"
        raise FlyteIapError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    return sock


class _NoCookies(aiohttp.DummyCookieJar):
    """Cookies are the clients' business: never kept between them."""


def serve(settings: ProxySettings, tokens: TokenProvider, console: Console) -> None:
    """Serve until SIGINT or SIGTERM; then drain and return."""
    if not console.verbose:
        logging.getLogger("aiohttp").addHandler(logging.NullHandler())
        logging.getLogger("aiohttp").propagate = False
    asyncio.run(_serve(settings, tokens, console))


async def _serve(settings: ProxySettings, tokens: TokenProvider, console: Console) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, AttributeError):  # Windows: Ctrl-C raises
            loop.add_signal_handler(signum, stop.set)
    server = ProxyServer(settings, tokens, console)
    port = await server.start()
    console.say(
        f"flyte-iap: listening on http://localhost:{port} (forwarding to {settings.upstream}; "
        "Ctrl-C stops)"
    )
    try:
        await stop.wait()
        console.say(f"flyte-iap: stopping (requests in flight get {settings.drain_seconds:g} s)")
    finally:
        await server.stop()
