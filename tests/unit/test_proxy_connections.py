"""The proxy's connections, in process: a head that does not come whole in time and an idle
keep-alive connection are closed, connections beyond the cap wait until one closes, and
stopping waits for the requests in flight only until the drain's bound, then cuts them.
Where it listens: both loopback addresses on one port, or a clear failure.

Deadlines are the proxy's own settings, made short; what the tests wait on is the event
(the proxy closed the socket, an answer came), with the socket's timeout as a hang guard.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from flyte_iap.emulator import Emulator
from flyte_iap.errors import FlyteIapError
from flyte_iap.proxy import LOCALHOST
from flyte_iap.proxy.listen import bind_socket, listen

from ..proxy_upstream import Upstream
from .test_proxy import Proxy, proxies

HANG_GUARD = 30.0


@pytest.fixture
def proxy_to(emulator: Emulator, home: Path) -> Iterator[Any]:
    with proxies(emulator, home) as start:
        yield start


def connected(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)


def closed_by_the_proxy(sock: socket.socket) -> bool:
    """Whether the proxy closes ``sock`` (the test sends nothing more): EOF or a reset."""
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def request_on(sock: socket.socket, port: int, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())


def answer_on(sock: socket.socket) -> bytes:
    """One answer read off ``sock`` (the upstream's are JSON with a Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "closed in the middle of an answer"
        body += chunk
    return head.split(b"\r\n")[0]


# --- deadlines ---------------------------------------------------------------------------
@pytest.mark.parametrize("sent", [b"", b"GET /x HTTP/1.1\r\nHost: localhost"])
def test_a_connection_without_a_whole_request_head_is_closed(
    upstream: Upstream, proxy_to: Any, sent: bytes
) -> None:
    proxy = proxy_to(upstream.url, head_seconds=0.3, idle_seconds=600)
    with connected(proxy.port) as sock:
        sock.sendall(sent)
        assert closed_by_the_proxy(sock)
    assert upstream.seen == []


def test_a_late_head_after_a_request_is_closed_too(upstream: Upstream, proxy_to: Any) -> None:
    """The next request's head is due once its first bytes came, however long the
    connection may idle. (Long enough for the first head to come whole on a loaded
    machine: that one must not be late.)"""
    proxy = proxy_to(upstream.url, head_seconds=2, idle_seconds=600)
    with connected(proxy.port) as sock:
        request_on(sock, proxy.port, "/first")
        assert answer_on(sock) == b"HTTP/1.1 200 OK"
        sock.sendall(b"GET /second HTTP/1.1\r\n")
        assert closed_by_the_proxy(sock)
    assert [s["path"] for s in upstream.seen] == ["/first"]


def test_an_idle_keep_alive_connection_is_closed(upstream: Upstream, proxy_to: Any) -> None:
    proxy = proxy_to(upstream.url, idle_seconds=2)
    with connected(proxy.port) as sock:
        for path in ("/one", "/two"):  # kept alive between requests that come in time
            request_on(sock, proxy.port, path)
            assert answer_on(sock) == b"HTTP/1.1 200 OK"
        assert closed_by_the_proxy(sock)


def test_connections_beyond_the_cap_wait_until_one_closes(
    upstream: Upstream, proxy_to: Any
) -> None:
    proxy = proxy_to(upstream.url, max_connections=2, head_seconds=600, idle_seconds=600)
    first, second = connected(proxy.port), connected(proxy.port)
    with first, second, connected(proxy.port) as third:
        for sock in (first, second):  # accepted: each answered
            request_on(sock, proxy.port, "/in")
            answer_on(sock)
        request_on(third, proxy.port, "/waiting")
        # The proxy answers on the connections it holds meanwhile, but not on the third.
        request_on(second, proxy.port, "/in-again")
        answer_on(second)
        assert "/waiting" not in [s["path"] for s in upstream.seen]
        assert proxy.server.connections.open == 2
        first.close()
        assert answer_on(third) == b"HTTP/1.1 200 OK"
    assert [s["path"] for s in upstream.seen][-1] == "/waiting"


def test_the_cap_is_below_the_descriptor_limit() -> None:
    from flyte_iap.proxy.connections import MAX_CONNECTIONS, RESERVE, connection_cap

    assert connection_cap(256) == (256 - RESERVE) // 2  # macOS's default limit
    assert connection_cap(256) * 2 + RESERVE <= 256
    assert connection_cap(10) == 1
    assert connection_cap(1 << 20) == connection_cap(None) == MAX_CONNECTIONS


# --- stopping ----------------------------------------------------------------------------
def stopping(proxy: Proxy) -> tuple[Future[None], Callable[[], None]]:
    """The proxy stopping with a drain bound that only the test ends: (the stop, its end)."""
    ended = proxy.call(_event())
    stop = proxy.submit(proxy.server.stop(bound=ended.wait))
    return stop, lambda: proxy.loop.call_soon_threadsafe(ended.set)


async def _event() -> asyncio.Event:
    return asyncio.Event()


@pytest.mark.timeout(60)  # a hang guard
def test_stopping_waits_for_a_request_in_flight(upstream: Upstream, proxy_to: Any) -> None:
    proxy = proxy_to(upstream.url, drain_seconds=600)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(requests.get, f"{proxy.url}/held", timeout=HANG_GUARD)
        assert upstream.arrived.wait(HANG_GUARD)
        stop, _ = stopping(proxy)
        upstream.release.set()
        assert held.result().status_code == 200
        stop.result(HANG_GUARD)  # done once drained, the bound never ended
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{proxy.url}/after", timeout=HANG_GUARD)


@pytest.mark.timeout(60)  # a hang guard
def test_at_the_drain_bound_requests_in_flight_are_cut(upstream: Upstream, proxy_to: Any) -> None:
    """A slow answer and a stream, both still running when the bound ends: the stop returns
    then, and both clients see their connection cut, never a truncated success."""
    proxy = proxy_to(upstream.url, drain_seconds=600)
    with ThreadPoolExecutor(1) as pool:
        stream = requests.get(f"{proxy.url}/stream", stream=True, timeout=HANG_GUARD)
        pieces = stream.raw.stream(64, decode_content=False)
        assert next(pieces) == b"first"
        held = pool.submit(requests.get, f"{proxy.url}/held", timeout=HANG_GUARD)
        assert upstream.arrived.wait(HANG_GUARD)
        stop, end_bound = stopping(proxy)
        end_bound()
        stop.result(HANG_GUARD)
        assert not upstream.release.is_set()  # the upstream still holds both answers
        with pytest.raises(requests.ConnectionError):
            held.result()
        with pytest.raises(Exception) as cut:
            b"".join(pieces)
        assert "IncompleteRead" in repr(cut.value) or "ProtocolError" in repr(cut.value)


# --- where it listens --------------------------------------------------------------------
def test_localhost_is_both_loopback_addresses_on_one_port() -> None:
    listening = listen(LOCALHOST, 0)
    try:
        assert listening.url == f"http://localhost:{listening.port}"
        names = sorted(s.getsockname()[0] for s in listening.sockets)
        assert names == ["127.0.0.1", "::1"]
        assert {s.getsockname()[1] for s in listening.sockets} == {listening.port}
    finally:
        for sock in listening.sockets:
            sock.close()


def test_a_port_taken_on_ipv6_only_is_given_up_for_another() -> None:
    """Port 0: the kernel picked a port free on 127.0.0.1 that another program holds on
    ::1; the proxy takes another port, on both."""
    refused: list[int] = []

    def bind(host: str, port: int) -> socket.socket:
        if host == "::1" and not refused:
            refused.append(port)
            raise OSError(errno.EADDRINUSE, "Address already in use")
        return bind_socket(host, port)

    listening = listen(LOCALHOST, 0, bind=bind)
    try:
        assert refused and listening.port != refused[0]
        assert len(listening.sockets) == 2 and listening.url.endswith(f":{listening.port}")
    finally:
        for sock in listening.sockets:
            sock.close()


def test_a_fixed_port_taken_on_ipv6_fails_rather_than_print_localhost() -> None:
    with socket.socket(socket.AF_INET6) as squatter:
        squatter.bind(("::1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(FlyteIapError) as failed:
            listen(LOCALHOST, port)
    assert str(failed.value).startswith(f"cannot listen on [::1]:{port}: ")
    with socket.socket() as probe:  # 127.0.0.1 was let go again
        probe.bind(("127.0.0.1", port))


def test_without_ipv6_localhost_is_127_0_0_1_alone() -> None:
    def bind(host: str, port: int) -> socket.socket:
        if host == "::1":
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        return bind_socket(host, port)

    listening = listen(LOCALHOST, 0, bind=bind)
    try:
        assert [s.getsockname()[0] for s in listening.sockets] == ["127.0.0.1"]
        assert listening.url == f"http://localhost:{listening.port}"
    finally:
        listening.sockets[0].close()


@pytest.mark.parametrize(("host", "shown"), [("127.0.0.5", "127.0.0.5"), ("::1", "[::1]")])
def test_another_address_is_bound_alone_and_printed_as_it_is(host: str, shown: str) -> None:
    try:
        listening = listen(host, 0)
    except FlyteIapError as exc:  # macOS answers on 127.0.0.1 alone unless told otherwise
        pytest.skip(str(exc))
    try:
        assert listening.url == f"http://{shown}:{listening.port}"
        assert len(listening.sockets) == 1
    finally:
        listening.sockets[0].close()
