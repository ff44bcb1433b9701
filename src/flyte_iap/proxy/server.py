"""The proxy's server: aiohttp on loopback sockets, one pooled client to the upstream.

:class:`ProxyServer` is started and stopped on a running event loop (tests run it in
a thread); :func:`serve` is the command's whole life: serve until SIGINT or SIGTERM,
then stop accepting, let requests in flight finish (at most ``DRAIN_SECONDS``; those
still running then are cut), exit. Where it listens is :mod:`.listen`'s; how many
connections it holds, and for how long, :mod:`.connections`'.

A refused request (a browser's), and one that asked for a protocol upgrade, get their
answer and then a closed connection: nothing more is read from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from flyte_iap.console import Console
from flyte_iap.proxy.connections import (
    HEAD_SECONDS,
    IDLE_SECONDS,
    Connections,
    connection_cap,
    descriptor_limit,
)
from flyte_iap.proxy.forward import (
    NOT_ADDED,
    REPLAY_TOTAL,
    ReplayBudget,
    Upstream,
    forward,
    plain,
)
from flyte_iap.proxy.guard import own_hosts, refusal
from flyte_iap.proxy.listen import LOCALHOST, listen
from flyte_iap.proxy.tokens import TokenProvider

DRAIN_SECONDS = 10.0
# Connecting is bounded; reading is not bounded per answer (a watch streams for hours)
# but an upstream silent this long is cut.
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_connect=10, sock_read=600)


@dataclass(frozen=True)
class ProxySettings:
    """``upstream``: a checked https URL (http only to loopback); ``host``: where to
    listen, :data:`~flyte_iap.proxy.listen.LOCALHOST` (both loopback addresses) or a
    loopback address literal; ``port`` 0 picks one. ``max_connections`` None: from the
    descriptor limit (:func:`~flyte_iap.proxy.connections.connection_cap`)."""

    upstream: str
    host: str = LOCALHOST
    port: int = 0
    ca_file: str | None = None
    drain_seconds: float = DRAIN_SECONDS
    head_seconds: float = HEAD_SECONDS
    idle_seconds: float = IDLE_SECONDS
    max_connections: int | None = None
    replay_total: int = REPLAY_TOTAL


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
    """Listens where ``settings`` say (:func:`~flyte_iap.proxy.listen.listen`) and forwards."""

    def __init__(self, settings: ProxySettings, tokens: TokenProvider, console: Console) -> None:
        self.settings = settings
        self.tokens = tokens
        self.console = console
        self.port = 0
        #: The address to give clients, once started.
        self.url = ""
        self.connections: Connections | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> int:
        """Bind, start accepting; the port."""
        s = self.settings
        listening = listen(s.host, s.port)
        self.port, self.url = listening.port, listening.url
        cap = s.max_connections or connection_cap(descriptor_limit())
        # At most one upstream connection per client connection: the same cap.
        connector = aiohttp.TCPConnector(ssl=tls_context(s.ca_file), limit=cap)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=_TIMEOUT,
            auto_decompress=False,
            cookie_jar=_NoCookies(),
            skip_auto_headers=NOT_ADDED,  # set once here, not made again for every request
        )
        up = Upstream(
            s.upstream.rstrip("/"),
            self._session,
            self.tokens,
            self.console,
            ReplayBudget(s.replay_total),
        )
        own = own_hosts(s.host, self.port)

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            connections.started(request)
            try:
                reason = refusal(
                    request.method,
                    request.raw_path,
                    request.headers.getall("host", []),
                    request.headers.keys(),
                    own,
                )
                if reason is not None:
                    self.console.debug(f"refused {request.method}: {reason}")
                    response: web.StreamResponse = plain(403, f"flyte-iap proxy: {reason}")
                else:
                    response = await forward(request, up)
                if reason is not None or "upgrade" in request.headers:
                    response.force_close()
                # Written here, in flight, so that a drain waits for the whole answer.
                await response.prepare(request)
                await response.write_eof()
                return response
            finally:
                connections.finished(request)

        connections = Connections(
            web.Server(handle),
            self.console,
            cap=cap,
            head_seconds=s.head_seconds,
            idle_seconds=s.idle_seconds,
        )
        self.connections = connections
        connections.accept(listening.sockets)
        return self.port

    async def stop(self, bound: Callable[[], Awaitable[object]] | None = None) -> None:
        """Stop accepting, let requests in flight finish until ``bound()`` is done (by
        default once ``drain_seconds`` have passed), cut those left, close the pool."""
        if self.connections is not None:
            drain = self.settings.drain_seconds
            await self.connections.close(bound or (lambda: asyncio.sleep(drain)))
        if self._session is not None:
            await self._session.close()


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
    # Without -v, nothing asyncio reports (a client gone mid-answer, say) reaches stderr.
    loop.set_exception_handler(lambda _, context: _loop_trouble(console, context))
    server = ProxyServer(settings, tokens, console)
    await server.start()
    console.say(
        f"flyte-iap: listening on {server.url} (forwarding to {settings.upstream}; Ctrl-C stops)"
    )
    try:
        await stop.wait()
        console.say(f"flyte-iap: stopping (requests in flight get {settings.drain_seconds:g} s)")
    finally:
        await server.stop()


def _loop_trouble(console: Console, context: dict[str, object]) -> None:
    exc = context.get("exception")
    console.debug(f"event loop: {context.get('message')}" + (f": {exc!r}" if exc else ""))
