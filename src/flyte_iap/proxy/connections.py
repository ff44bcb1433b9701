"""The proxy's client connections: how many at once, for how long, and how they end.

Anything on this machine can connect, a web page too (its requests are refused, but its
sockets are open), so connections are a resource to guard:

- **At most a cap at once**, below the process's descriptor limit (``RLIMIT_NOFILE``;
  256 by default on macOS): each connection may hold a second descriptor to the
  upstream, and ``RESERVE`` stay free for the rest (the listening sockets, the event
  loop, a token fetch's sockets and files). Beyond the cap, new connections wait in the
  kernel's backlog until one closes.
- **Deadlines.** A connection must send a complete request head within
  ``HEAD_SECONDS`` of opening, or of the first bytes of its next request; one idle
  between requests is closed after ``IDLE_SECONDS``.
- **Out of descriptors** anyway (the limit lowered under the running proxy, or the
  system's table full): one line says so (not one per try), the cap is made again
  from the limit as it is now, and accepting resumes by itself when a connection
  closes, or after ``RETRY_SECONDS``.
- **Stopping**: no more accepting, idle connections closed at once, requests in flight
  given until a bound, then cut.

Accepting is done here, not by asyncio's server, which logs a traceback for every
accept that fails for want of descriptors, many a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from flyte_iap.console import Console

#: Seconds a connection has to send a complete request head.
HEAD_SECONDS = 5.0
#: Seconds a connection may stay idle between two requests.
IDLE_SECONDS = 60.0
#: The cap where no descriptor limit is read (Windows), or a very high limit.
MAX_CONNECTIONS = 1024
#: Descriptors kept for all but client connections and their upstream connections.
RESERVE = 32
#: Longest wait before trying to accept again after running out of descriptors.
RETRY_SECONDS = 1.0
# At most one "out of file descriptors" line in this many seconds.
_TELL_EVERY = 60.0
# Cut requests only unwind (their finally blocks); this bounds a stuck one.
_UNWIND_SECONDS = 2.0
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def descriptor_limit() -> int | None:
    """The process's soft limit of open descriptors; None where there is none to read."""
    try:
        import resource
    except ImportError:  # Windows: no such per-process limit on sockets
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY or soft < 0 else soft


def connection_cap(limit: int | None) -> int:
    """How many client connections at once, for a descriptor ``limit`` (None: none)."""
    if limit is None:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, (limit - RESERVE) // 2))


class Connections:
    """Accepts on the listening sockets and keeps the rules above; ``server`` (aiohttp's)
    answers on each connection."""

    def __init__(
        self,
        server: web.Server,
        console: Console,
        *,
        cap: int,
        head_seconds: float = HEAD_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        #: How many connections at once, now (:meth:`_out_of_descriptors` may lower it).
        self.cap = cap
        self._cap = cap
        self._server = server
        self._console = console
        self._head_seconds = head_seconds
        # aiohttp closes a connection idle between requests after its keep-alive timeout.
        self._options: dict[str, Any] = {
            "keepalive_timeout": idle_seconds,
            "access_log": None,
            # Bodies pass as they came: a gzip request body (the Flyte 2 SDK sends every
            # unary call so) must not be inflated under its original Content-Length.
            "auto_decompress": False,
        }
        self._live: set[_Connection] = set()
        self._closed_one = asyncio.Event()
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._drained = asyncio.Event()
        self._drained.set()
        self._sockets: list[socket.socket] = []
        self._acceptors: list[asyncio.Task[None]] = []
        self._starved = False
        self._told_at: float | None = None

    @property
    def open(self) -> int:
        """How many client connections are open now."""
        return len(self._live)

    def accept(self, sockets: Sequence[socket.socket]) -> None:
        """Start accepting on ``sockets`` (listening, non-blocking), which this now owns."""
        loop = asyncio.get_running_loop()
        self._sockets = list(sockets)
        self._acceptors = [loop.create_task(self._accept(sock)) for sock in sockets]

    def started(self, request: web.BaseRequest) -> None:
        """``request`` is being handled: it is in flight, its connection busy. (Two calls
        around the handling, not a context manager: this runs for every request.)"""
        connection = request.protocol
        if isinstance(connection, _Connection):
            connection.started()
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
            self._drained.clear()

    def finished(self, request: web.BaseRequest) -> None:
        """``request`` was answered (or cut): no longer in flight."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.discard(task)
            if not self._in_flight:
                self._drained.set()
        connection = request.protocol
        if isinstance(connection, _Connection):
            connection.finished()

    async def close(self, bound: Callable[[], Awaitable[object]]) -> None:
        """Stop accepting, close idle connections, wait for the requests in flight until
        they are done or ``bound()`` is, then cut the rest."""
        for acceptor in self._acceptors:
            acceptor.cancel()
        await asyncio.gather(*self._acceptors, return_exceptions=True)
        for sock in self._sockets:
            sock.close()
        for connection in list(self._live):
            if connection.busy:
                connection.close()  # closed after the answer in flight, not kept alive
            else:
                connection.force_close()
        if self._in_flight:
            waits = [asyncio.ensure_future(self._drained.wait()), asyncio.ensure_future(bound())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
        cut = list(self._in_flight)
        for task in cut:
            task.cancel()
        for connection in list(self._live):
            connection.force_close()
        if cut:
            await asyncio.wait(cut, timeout=_UNWIND_SECONDS)

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while len(self._live) >= self.cap:
                await self._one_closed()
            try:
                client, _ = await loop.sock_accept(sock)
            except ConnectionError:  # gone before it was accepted
                continue
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    self._out_of_descriptors(loop.time())
                else:
                    self._console.debug(f"accepting a connection failed: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._one_closed(), RETRY_SECONDS)
                continue
            if self._starved:
                self._starved = False
                self._console.debug("accepting connections again")
            try:
                client.setblocking(False)
                await loop.connect_accepted_socket(self._connection, sock=client)
            except OSError as exc:
                client.close()
                self._console.debug(f"a connection could not be set up: {exc}")

    def _connection(self) -> _Connection:
        return _Connection(self, self._server, loop=asyncio.get_running_loop(), **self._options)

    async def _one_closed(self) -> None:
        self._closed_one.clear()
        await self._closed_one.wait()

    def _out_of_descriptors(self, now: float) -> None:
        limit = descriptor_limit()
        # The limit may have been lowered under the running proxy: a cap made for the old
        # one would take the last descriptors for clients and leave none for the upstream.
        self.cap = min(self._cap, connection_cap(limit))
        if self._starved:
            return
        self._starved = True
        if self._told_at is not None and now - self._told_at < _TELL_EVERY:
            return
        self._told_at = now
        self._console.say(
            "flyte-iap: out of file descriptors"
            + (f" (the limit is {limit})" if limit is not None else "")
            + ": new connections wait until some close; if this lasts, raise it (ulimit -n)"
        )

    def _opened(self, connection: _Connection) -> None:
        self._live.add(connection)

    def _gone(self, connection: _Connection) -> None:
        if connection in self._live:
            self._live.discard(connection)
            self._closed_one.set()


class _Connection(web.RequestHandler):
    """aiohttp's connection, closed when a request head is late.

    The deadline is a time kept per head and one timer per connection that only looks
    at it when it fires (and sets itself again for a deadline that moved): a timer made
    and cancelled for every request would cost a keep-alive connection more."""

    def __init__(self, owner: Connections, manager: web.Server, **options: Any) -> None:
        super().__init__(manager, **options)
        self._owner = owner
        self._head_due: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._owner._opened(self)
        self._head_started()

    def data_received(self, data: bytes) -> None:
        if not self.busy and self._head_due is None:
            self._head_started()  # the first bytes of its next request
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)
        self._owner._gone(self)

    def started(self) -> None:
        """A request head came whole: its deadline is met."""
        self.busy = True
        self._head_due = None

    def finished(self) -> None:
        self.busy = False

    def _head_started(self) -> None:
        loop = asyncio.get_running_loop()
        self._head_due = loop.time() + self._owner._head_seconds
        if self._timer is None:
            self._timer = loop.call_at(self._head_due, self._check)

    def _check(self) -> None:
        self._timer = None
        due = self._head_due
        if due is None or self.busy:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < due:
            self._timer = loop.call_at(due, self._check)
            return
        self.force_close()
