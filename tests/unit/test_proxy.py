"""``flyte-iap proxy`` in process: the real aiohttp server on 127.0.0.1, its tokens from
the use cases against the emulator, the emulator's IAP gate in front of a small upstream
(one that echoes what reached it, streams, waits, or plays IAP's 401 once)."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from flyte_iap.cli.options import token_request, token_words
from flyte_iap.cli.wiring import Wiring
from flyte_iap.console import Console
from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.proxy import ProxyServer, ProxySettings, TokenProvider, token_source

from ..cli import InProcessCli, isolated_env
from ..proxy_upstream import PAUSE, Upstream
from ..tokens import AUD, SA, verify


# --- the proxy, in a thread of its own ---------------------------------------------------
class Proxy:
    """The proxy's server on its own event loop; its token from the service-account use
    case against ``emu`` (none fetched yet unless ``prefetch``)."""

    def __init__(self, emu: Emulator, home: Path, upstream: str, *, margin: float = 300) -> None:
        key = emu.write_service_account_key(home / "key.json")
        self.wiring = Wiring(isolated_env(home, emu.env()))
        args = ["--webapp_client_id", AUD, "--service_account_key", str(key)]
        words = token_words(
            SA, [*args, "--refresh_margin", str(margin)], self.wiring.env, print, written=False
        )
        request = token_request(SA, words.values)
        run = self.wiring
        _, fetch = token_source(request, run.services, run.user_store("file"), run.login_ui())
        self.console = Console()
        self.tokens = TokenProvider(fetch, margin=margin, clock=time.time, console=self.console)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = ProxyServer(ProxySettings(upstream), self.tokens, self.console)
        self.port = self._call(self.server.start())
        self.url = f"http://localhost:{self.port}"

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def stop(self) -> None:
        self._call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def proxy_to(emulator: Emulator, home: Path) -> Iterator[Any]:
    started: list[Proxy] = []

    def start(upstream: str, **kwargs: Any) -> Proxy:
        started.append(Proxy(emulator, home, upstream, **kwargs))
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


def raw(port: int, method: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request exactly as given (Host included), on its own connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
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
    start = time.monotonic()
    with requests.get(f"{proxy.url}/stream", stream=True, timeout=10) as answer:
        pieces = answer.raw.stream(64, decode_content=False)
        first = next(pieces)
        first_at = time.monotonic() - start
        rest = b"".join(pieces)
    total = time.monotonic() - start
    assert (first, rest) == (b"first", b"second")
    assert first_at < PAUSE / 2 < PAUSE <= total, (first_at, total)


def test_fifty_concurrent_requests_make_one_token_fetch(
    emulator: Emulator, upstream: Upstream, proxy_to: Any
) -> None:
    proxy = proxy_to(emulator.start_gate(upstream.url))
    before = emulator.count("token")
    with ThreadPoolExecutor(50) as pool:
        statuses = list(
            pool.map(lambda i: requests.get(f"{proxy.url}/n/{i}").status_code, range(50))
        )
    assert statuses == [200] * 50
    assert emulator.count("token") - before == 1
    assert proxy.tokens.fetches == 1
    assert [r.verdict for r in emulator.gate_log] == ["allowed"] * 50


def test_a_token_expiring_mid_run_is_fetched_once_per_expiry(home: Path) -> None:
    lifetime, margin = 3, 1.0
    with Emulator(EmulatorConfig(token_lifetime=lifetime)) as emu:
        upstream = Upstream()
        try:
            proxy = Proxy(emu, home, emu.start_gate(upstream.url), margin=margin)
            deadline, statuses = time.monotonic() + 20, []
            with ThreadPoolExecutor(8) as pool:
                while len(_tokens_seen(emu)) < 3 and time.monotonic() < deadline:
                    statuses += pool.map(
                        lambda i: requests.get(f"{proxy.url}/t").status_code, range(8)
                    )
            proxy.stop()
        finally:
            upstream.stop()
        assert set(statuses) == {200} and len(statuses) > 40
        assert all(r.verdict == "allowed" for r in emu.gate_log)
        # Two expiries in the run; each cost one fetch, made by one request for all.
        assert len(_tokens_seen(emu)) == proxy.tokens.fetches == emu.count("token") == 3


def _tokens_seen(emu: Emulator) -> set[str]:
    return {r.detail["jti"] for r in emu.gate_log if isinstance(r.detail, dict)}


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
    assert proxy.tokens.fetches == 2  # the first token, and the one forced after the 401


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
