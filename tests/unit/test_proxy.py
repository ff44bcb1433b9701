"""``flyte-iap proxy`` in process: the settings and tokens built by the command's own
``prepare`` (its first token fetched from the emulator by the use cases), the real aiohttp
server on 127.0.0.1, the emulator's IAP gate in front of a small upstream (one that echoes
what reached it, streams, holds a request, or plays IAP's 401).

The server runs on an event loop of its own thread rather than through the command's
``serve``: that one stops on SIGINT and SIGTERM, handlers only a process's main thread can
own. tests/e2e/test_proxy_command.py runs the whole command, and stops it so."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import http.client
import itertools
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from flyte_iap.cli.proxy import prepare
from flyte_iap.cli.wiring import Wiring
from flyte_iap.emulator import Emulator
from flyte_iap.proxy import ProxyServer
from flyte_iap.proxy.forward import SMALL_ANSWER

from ..cli import InProcessCli, isolated_env
from ..proxy_upstream import Upstream
from ..tokens import AUD, SA, verify


# --- the proxy, in a thread of its own ---------------------------------------------------
class Proxy:
    """``flyte-iap proxy --upstream UPSTREAM generate-service-account-id-token ...`` as the
    command builds it, serving on its own event loop; its first token is fetched.
    ``clock`` and ``sleep`` are the command's seams (``Wiring``); ``settings`` replace
    fields of the ``ProxySettings`` the command made."""

    def __init__(
        self,
        emu: Emulator,
        home: Path,
        upstream: str,
        *,
        margin: float = 300,
        ca_file: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        **settings: Any,
    ) -> None:
        key = emu.write_service_account_key(home / "key.json")
        self.wiring = Wiring(isolated_env(home, emu.env()), clock=clock, sleep=sleep)
        args = ["--webapp_client_id", AUD, "--service_account_key", str(key)]
        args += ["--refresh_margin", f"{margin:g}"]
        made, self.tokens = prepare(self.wiring, upstream, "127.0.0.1:0", ca_file, SA, args)
        self.settings = dataclasses.replace(made, **settings)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = ProxyServer(self.settings, self.tokens, self.wiring.console)
        self.port = self.call(self.server.start())
        self.url = f"http://localhost:{self.port}"
        self._stopped = False

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        """Run ``coroutine`` on the proxy's loop; its result."""
        return self.submit(coroutine).result(timeout)

    def submit(self, coroutine: Any) -> concurrent.futures.Future[Any]:
        """Start ``coroutine`` on the proxy's loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.call(self.server.stop(bound=lambda: asyncio.sleep(0)))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def proxy_to(emulator: Emulator, home: Path) -> Iterator[Any]:
    """``proxy_to(UPSTREAM, **kwargs)``: a :class:`Proxy`, stopped after the test."""
    with proxies(emulator, home) as start:
        yield start


@contextlib.contextmanager
def proxies(emulator: Emulator, home: Path) -> Iterator[Callable[..., Proxy]]:
    """Starts proxies (``start(UPSTREAM, **kwargs)``) and stops them all on leaving."""
    started: list[Proxy] = []

    def start(upstream: str, **kwargs: Any) -> Proxy:
        started.append(Proxy(emulator, home, upstream, **kwargs))
        return started[-1]

    try:
        yield start
    finally:
        for proxy in started:
            proxy.stop()


def raw(
    port: int, method: str, target: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, bytes]:
    """One request exactly as given (Host included, nothing added), on its own connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# --- forwarding --------------------------------------------------------------------------
def test_through_the_proxy_the_gate_lets_the_request_in(
    emulator: Emulator, upstream: Upstream, proxy_to: Any
) -> None:
    gate = emulator.start_gate(upstream.url)
    assert requests.get(f"{gate}/api/v1/projects", timeout=10).status_code == 401
    proxy = proxy_to(gate)
    answer = requests.get(
        f"{proxy.url}/api/v1/projects?limit=3",
        headers={"proxy-authorization": "Bearer forged", "Connection": "x-hop", "x-hop": "1"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    refused, allowed = emulator.gate_log
    assert refused.verdict == "refused"
    assert allowed.verdict == "allowed" and allowed.path == "/api/v1/projects"
    assert isinstance(allowed.detail, dict) and allowed.detail["aud"] == AUD
    seen = upstream.seen[-1]
    assert seen["path"] == "/api/v1/projects?limit=3"
    assert "x-hop" not in seen["headers"]  # named in Connection: hop-by-hop


def test_the_token_sent_verifies_and_replaces_any_incoming_one(
    emulator: Emulator, upstream: Upstream, proxy_to: Any
) -> None:
    proxy = proxy_to(upstream.url)
    answer = requests.post(
        f"{proxy.url}/x", data=b"payload", headers={"Proxy-Authorization": "Bearer forged"}
    )
    assert answer.status_code == 200
    sent = upstream.seen[-1]["headers"]["proxy-authorization"]
    assert sent.startswith("Bearer ") and "forged" not in sent
    claims = verify(emulator, sent.removeprefix("Bearer "))
    assert claims["email"] == emulator.config.service_account_email
    assert upstream.seen[-1]["sha256"] == hashlib.sha256(b"payload").hexdigest()


def test_a_streamed_answer_flows_as_it_comes(
    emulator: Emulator, upstream: Upstream, proxy_to: Any
) -> None:
    proxy = proxy_to(emulator.start_gate(upstream.url))
    with requests.get(f"{proxy.url}/stream", stream=True, timeout=30) as answer:
        pieces = answer.raw.stream(64, decode_content=False)
        # The upstream sends its second chunk only once the first came through: a proxy
        # (or gate) that buffers the answer hangs here until the read timeout.
        first = next(pieces)
        upstream.release.set()
        rest = b"".join(pieces)
    assert (first, rest) == (b"first", b"second")


def test_fifty_requests_refused_at_once_make_one_token_fetch(
    emulator: Emulator, proxy_to: Any
) -> None:
    """IAP refuses the first token of all fifty at once (the upstream holds each refusal
    until all fifty came with it): one renewal serves them all."""
    upstream = Upstream(together=50)
    try:
        proxy = proxy_to(upstream.url)
        with ThreadPoolExecutor(50) as pool:
            answers = list(
                pool.map(
                    lambda i: requests.get(f"{proxy.url}/iap-first/{i}", timeout=60), range(50)
                )
            )
    finally:
        upstream.stop()
    assert [a.status_code for a in answers] == [200] * 50, {a.text for a in answers}
    assert proxy.tokens.fetches == 1
    assert emulator.count("token") == 2  # the first token, and the one renewal
    bearers = [s["headers"]["proxy-authorization"] for s in upstream.seen]
    first, renewed = bearers[0], bearers[-1]
    assert sorted(bearers) == sorted([first] * 50 + [renewed] * 50) and first != renewed
    verify(emulator, renewed.removeprefix("Bearer "), emulator.config.service_account_email)


@pytest.mark.timeout(60)  # a hang guard: each token is fresh for 2 s, three make ~5 s
def test_a_token_expiring_mid_run_is_fetched_once_per_expiry(
    emulator: Emulator, upstream: Upstream, proxy_to: Any
) -> None:
    lifetime, margin = 3, 1
    emulator.config.token_lifetime = lifetime
    proxy = proxy_to(emulator.start_gate(upstream.url), margin=margin)
    statuses: list[int] = []
    with ThreadPoolExecutor(8) as pool:
        while len(_tokens_seen(emulator)) < 3:  # waves of 8 at once, across two expiries
            statuses += pool.map(
                lambda i: requests.get(f"{proxy.url}/t", timeout=30).status_code, range(8)
            )
    assert set(statuses) == {200}
    assert all(r.verdict == "allowed" for r in emulator.gate_log)
    tokens = _tokens_seen(emulator)
    # Each token gave way to the next once it was within the margin, before it expired.
    for old, new in itertools.pairwise(tokens):
        assert old["exp"] - margin <= new["iat"] <= old["exp"], (old, new)
    # One fetch per expiry, made by one request for all: every token fetched is a new one
    # from the emulator (a second request fetching too would get the cached one), and each
    # reached the gate (the first one, fetched at the start, may have gone stale unused).
    minted = emulator.count("token")
    assert proxy.tokens.fetches == minted - 1
    assert len(tokens) in (minted, minted - 1)


def _tokens_seen(emu: Emulator) -> list[dict[str, Any]]:
    """The claims of each token the gate let in, in the order they first came."""
    seen: dict[str, dict[str, Any]] = {}
    for record in emu.gate_log:
        if isinstance(record.detail, dict):
            seen.setdefault(record.detail["jti"], record.detail)
    return list(seen.values())


def test_an_iap_401_gets_one_new_token_and_the_request_again(
    emulator: Emulator, upstream: Upstream, proxy_to: Any
) -> None:
    proxy = proxy_to(upstream.url)
    answer = requests.post(f"{proxy.url}/iap-once", data=b"again", timeout=10)
    assert answer.status_code == 200, answer.text
    first, second = upstream.seen
    assert first["sha256"] == second["sha256"] == hashlib.sha256(b"again").hexdigest()
    old, new = (s["headers"]["proxy-authorization"] for s in (first, second))
    assert old != new
    assert proxy.tokens.fetches == 1  # the one forced after the 401
    assert emulator.count("token") == 2  # and the first, fetched before listening


def test_a_body_too_large_to_keep_is_not_sent_again_after_iaps_401(
    upstream: Upstream, proxy_to: Any
) -> None:
    """A body of REPLAY_LIMIT or more streams to the upstream as it comes, so it cannot be
    sent again: IAP's 401 reaches the client as it came, and no token is renewed for it."""
    from flyte_iap.proxy.forward import REPLAY_LIMIT

    proxy = proxy_to(upstream.url)
    body = b"x" * REPLAY_LIMIT
    answer = requests.post(f"{proxy.url}/iap-once", data=body, timeout=30)
    assert answer.status_code == 401
    assert answer.headers["x-goog-iap-generated-response"] == "true"
    (seen,) = upstream.seen
    assert seen["sha256"] == hashlib.sha256(body).hexdigest()
    assert proxy.tokens.fetches == 0
    # One byte less is kept, and sent again with a new token.
    again = requests.post(f"{proxy.url}/iap-once", data=body[:-1], timeout=30)
    assert again.status_code == 200  # the upstream's 401 was for its first request only


def test_an_https_upstream_is_verified_with_the_ca_file(proxy_to: Any, tmp_path: Path) -> None:
    """--ca-file: the upstream's certificate is verified with that CA alone; without it,
    a private CA's certificate is not trusted, and the client gets a 502 saying why."""
    import ssl

    from ..certs import private_ca

    ca, cert, key = private_ca(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    secure = Upstream(tls=context)
    try:
        trusted = proxy_to(secure.url, ca_file=str(ca))
        answer = requests.get(f"{trusted.url}/over-tls", timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["path"] == "/over-tls"
        untrusted = proxy_to(secure.url)
        refused = requests.get(f"{untrusted.url}/over-tls", timeout=30)
        assert refused.status_code == 502
        assert "certificate verify failed" in refused.text
        assert [s["path"] for s in secure.seen] == ["/over-tls"]
    finally:
        secure.stop()


def test_upstream_down_is_a_502_and_the_proxy_keeps_serving(proxy_to: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proxy = proxy_to(f"http://127.0.0.1:{port}")
    down = requests.get(f"{proxy.url}/x", timeout=10)
    assert down.status_code == 502
    assert down.text.startswith("flyte-iap proxy: cannot reach the upstream http://127.0.0.1:")
    assert down.text.count("\n") == 1
    back = Upstream(port)
    try:
        assert requests.get(f"{proxy.url}/x", timeout=10).status_code == 200
    finally:
        back.stop()


def test_the_upstream_gets_the_clients_headers_and_nothing_more(
    upstream: Upstream, proxy_to: Any
) -> None:
    """No Accept-Encoding (a plain client would get a compressed body it cannot read), no
    Accept, no Content-Type, no User-Agent: only what the client sent, and the token."""
    proxy = proxy_to(upstream.url)
    host = f"localhost:{proxy.port}"
    status, _ = raw(proxy.port, "POST", "/bare", {"Host": host, "Content-Length": "4"}, b"data")
    assert status == 200
    assert set(upstream.seen[-1]["headers"]) == {"host", "content-length", "proxy-authorization"}
    sent = {"Host": host, "User-Agent": "curl/8.5.0", "Accept": "*/*", "X-Mine": "1"}
    status, _ = raw(proxy.port, "GET", "/curl", sent)
    assert status == 200
    seen = upstream.seen[-1]["headers"]
    assert {k: v for k, v in seen.items() if k not in ("host", "proxy-authorization")} == {
        "user-agent": "curl/8.5.0",
        "accept": "*/*",
        "x-mine": "1",
    }


@pytest.mark.parametrize("size", [0, 100, SMALL_ANSWER, SMALL_ANSWER + 1, 1 << 20])
def test_the_client_gets_the_upstreams_answer_and_nothing_more(
    upstream: Upstream, proxy_to: Any, size: int
) -> None:
    """Small answers (sent whole) and large ones (relayed as they come) alike: the status,
    the body, and the upstream's headers as they came, one Content-Length, nothing added.
    (aiohttp's server would add a Content-Type to a body that came without one: see
    proxy/forward.py.)"""
    body = bytes(i % 251 for i in range(size))
    sent = {"X-Up": "1", "Cache-Control": "no-store", "Content-Type": "application/x-test"}
    upstream.canned["/answer"] = (203, sent, body)
    proxy = proxy_to(upstream.url)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.request("GET", "/answer", headers={"Host": f"localhost:{proxy.port}"})
        resp = conn.getresponse()
        got = resp.read()
        names = sorted(name.lower() for name, _ in resp.getheaders())
    finally:
        conn.close()
    assert resp.status == 203
    assert got == body
    assert names == ["cache-control", "content-length", "content-type", "date", "server", "x-up"]
    assert resp.getheader("Content-Type") == "application/x-test"
    assert resp.getheader("Content-Length") == str(size)
    assert resp.getheader("Server", "").startswith("BaseHTTP")  # the upstream's own


PUBLIC = b"https://flyte.example.com"
ANSWER = b"\x0a" + bytes([len(PUBLIC)]) + PUBLIC + b"\x12\x04dp-1"  # cluster_endpoint, cluster


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("deflate", zlib.compress(ANSWER)),
        ("br", b"\x1b" + ANSWER),  # not decoded by the proxy: it must not pass on unread
        (None, ANSWER[:-3] + b"\x0a\x7f" + PUBLIC),  # field 1 claims more bytes than there are
    ],
)
def test_a_select_cluster_answer_that_cannot_be_rewritten_is_a_502(
    upstream: Upstream, proxy_to: Any, encoding: str | None, body: bytes
) -> None:
    """Passed on, its public cluster_endpoint would send the SDK's uploads around the proxy,
    to where calls go without a token."""
    from flyte_iap.proxy import SELECT_CLUSTER_PATH

    headers = {"Content-Type": "application/proto"}
    if encoding:
        headers["Content-Encoding"] = encoding
    upstream.canned[SELECT_CLUSTER_PATH] = (200, headers, body)
    proxy = proxy_to(upstream.url)
    answer = requests.post(
        f"{proxy.url}{SELECT_CLUSTER_PATH}",
        data=b"\x08\x01",
        headers={"Content-Type": "application/proto", "Accept-Encoding": "gzip, deflate, br"},
        timeout=10,
    )
    assert answer.status_code == 502
    assert answer.text.startswith("flyte-iap proxy: cannot rewrite the upstream's SelectCluster")
    assert answer.text.count("\n") == 1 and b"flyte.example.com" not in answer.content
    # gzip and identity are rewritten: the endpoint is gone, the rest kept
    upstream.canned[SELECT_CLUSTER_PATH] = (200, {"Content-Type": "application/proto"}, ANSWER)
    rewritten = requests.post(f"{proxy.url}{SELECT_CLUSTER_PATH}", data=b"\x08\x01", timeout=10)
    assert rewritten.status_code == 200 and rewritten.content == b"\x12\x04dp-1"


@pytest.mark.timeout(120)  # a hang guard: 20 MiB through loopback takes about a second
def test_bodies_kept_for_a_retry_are_bounded_in_all(emulator: Emulator, proxy_to: Any) -> None:
    """Each body is under REPLAY_LIMIT, but kept all at once they would pass REPLAY_TOTAL:
    the bodies beyond it stream, so IAP's 401 reaches their clients as it came, while the
    kept ones are sent again with a new token. The upstream holds every refusal until all
    requests came, so all are in flight at once."""
    from flyte_iap.proxy.forward import REPLAY_LIMIT, REPLAY_TOTAL

    size = REPLAY_LIMIT - 1
    kept = REPLAY_TOTAL // size
    count = kept + 2
    upstream = Upstream(together=count)
    try:
        proxy = proxy_to(upstream.url)
        body = b"x" * size
        with ThreadPoolExecutor(count) as pool:
            answers = list(
                pool.map(
                    lambda i: requests.post(f"{proxy.url}/iap-first/{i}", data=body, timeout=60),
                    range(count),
                )
            )
    finally:
        upstream.stop()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * kept + [401] * (count - kept), statuses
    assert proxy.tokens.fetches == 1


def test_an_upstreams_101_is_a_502_and_nothing_after_it_is_read_as_http(
    upstream: Upstream, proxy_to: Any
) -> None:
    """The proxy serves no protocol upgrade: Upgrade and Connection stay behind, and an
    upstream that switches anyway is answered for with a 502 and a closed connection, so
    the client's next bytes never reach the upstream as a request."""
    upstream.canned["/ws"] = (101, {"Upgrade": "websocket", "Connection": "Upgrade"}, b"")
    proxy = proxy_to(upstream.url)
    host = f"localhost:{proxy.port}"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n"
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = _read_head(sock)
        with contextlib.suppress(OSError):  # the proxy may have closed it already
            sock.sendall(f"GET /smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        rest = _read_to_end(sock)
    assert head.startswith(b"HTTP/1.1 502 "), head
    assert b"switched protocols" in head + rest and b"HTTP/1.1" not in rest
    assert [s["path"] for s in upstream.seen] == ["/ws"]
    assert not {"upgrade", "connection"} & set(upstream.seen[0]["headers"])
    assert requests.get(f"{proxy.url}/after", timeout=10).status_code == 200


def test_a_refused_request_gets_its_connection_closed(upstream: Upstream, proxy_to: Any) -> None:
    """A browser keeps a connection open for minutes; a refused one is not kept."""
    proxy = proxy_to(upstream.url)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.request("GET", "/x", headers={"Host": f"localhost:{proxy.port}", "Origin": "x"})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 403 and answer.will_close
    finally:
        conn.close()


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _read_to_end(sock: socket.socket) -> bytes:
    """Everything until the proxy closes the connection (the socket's timeout: a hang guard)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(4096):
            data += chunk
    return data


# --- refused without contacting the upstream ---------------------------------------------
@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/x", {"Host": "evil.example"}),
        ("GET", "/x", {"Host": "rebound.example:{port}"}),
        ("GET", "/x", {"Host": "localhost:{port}", "Origin": "http://localhost:8000"}),
        ("POST", "/x", {"Host": "localhost:{port}", "Sec-Fetch-Site": "cross-site"}),
        ("GET", "/favicon.ico", {"Host": "localhost:{port}", "Sec-Fetch-Dest": "image"}),
        ("GET", "http://localhost:{port}/x", {"Host": "localhost:{port}"}),
        ("CONNECT", "example.com:443", {"Host": "example.com:443"}),
    ],
)
def test_refused_with_403_and_the_gate_sees_nothing(
    emulator: Emulator,
    upstream: Upstream,
    proxy_to: Any,
    method: str,
    target: str,
    headers: dict[str, str],
) -> None:
    proxy = proxy_to(emulator.start_gate(upstream.url))
    fill = {k: v.format(port=proxy.port) for k, v in headers.items()}
    status, body = raw(proxy.port, method, target.format(port=proxy.port), fill)
    assert status == 403
    assert body.startswith(b"flyte-iap proxy: ")
    assert emulator.gate_log == [] and upstream.seen == []
    assert proxy.tokens.fetches == 0


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LocalHost:{port}"])
def test_its_own_names_are_served(
    emulator: Emulator, upstream: Upstream, proxy_to: Any, host: str
) -> None:
    proxy = proxy_to(emulator.start_gate(upstream.url))
    status, _ = raw(proxy.port, "GET", "/ok", {"Host": host.format(port=proxy.port)})
    assert status == 200


# --- the command line, refusing before it listens ----------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--listen", "0.0.0.0:0"], "not a loopback address"),
        (["--listen", "192.168.1.5:8080"], "not a loopback address"),
        (["--listen", "localhost"], "use HOST:PORT"),
        (["--upstream", "http://flyte.example.com"], "http:// is allowed only to"),
    ],
)
def test_bad_command_lines_are_refused(run_cli: InProcessCli, args: list[str], needle: str) -> None:
    base = {"--upstream": "https://flyte.example.com", "--listen": "127.0.0.1:0"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    line = [w for pair in base.items() for w in pair]
    result = run_cli("proxy", *line, SA, "--webapp_client_id", AUD)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and result.stdout == ""


def test_a_bad_token_command_is_refused(run_cli: InProcessCli) -> None:
    result = run_cli("proxy", "--upstream", "https://f.example.com", SA, "--no_such_option", "x")
    assert result.returncode == 2 and "no option --no_such_option" in result.stderr
