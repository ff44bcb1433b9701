"""The installed ``flyte-iap proxy`` out of file descriptors: with its limit lowered under
it to what it uses, while every connection it holds has stalled halfway through a request
head, a new client waits; the proxy says so once (no traceback, without -v), closes the
stalled connections when their heads are late, and serves the new client by itself.
Linux only: the limit is lowered from outside with ``prlimit``."""

from __future__ import annotations

import os
import resource
import signal
import socket
from pathlib import Path

import pytest
import requests

from flyte_iap.emulator import Emulator

from ..cli import Cli
from ..proxy_upstream import Upstream
from ..serving_commands import start_proxy
from ..tokens import AUD, SA

pytestmark = pytest.mark.skipif(
    not hasattr(resource, "prlimit") or not Path("/proc/self/fd").is_dir(),
    reason="lowering another process's descriptor limit needs Linux (prlimit, /proc)",
)

HANG_GUARD = 60.0
IDLE = 40


def closed_by_the_proxy(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


@pytest.mark.timeout(300)  # a hang guard: two head deadlines (5 s each) are expected
def test_out_of_descriptors_is_said_once_and_the_proxy_recovers_by_itself(
    cli: Cli, emulator: Emulator, upstream: Upstream, home: Path
) -> None:
    key = emulator.write_service_account_key(home / "key.json")
    args = ["--webapp_client_id", AUD, "--service_account_key", str(key)]
    proc, port = start_proxy(cli, "--upstream", upstream.url, SA, *args)
    idle = [socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) for _ in range(IDLE)]
    try:
        for sock in idle:  # each accepted for sure (answered), then its next head stalls
            sock.sendall(f"GET /warm HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
            assert _answer_status(sock) == b"HTTP/1.1 200 OK"
            sock.sendall(b"GET /late HTTP/1.1\r\n")
        # Not one descriptor to spare from now on: every accept fails until some close.
        used = len(os.listdir(f"/proc/{proc.pid}/fd"))
        _, hard = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (used, hard))
        answer = requests.get(f"http://localhost:{port}/after", timeout=HANG_GUARD)
        assert answer.status_code == 200
        assert all(closed_by_the_proxy(sock) for sock in idle)
    finally:
        for sock in idle:
            sock.close()
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 0, err
    assert out == ""
    assert err.count("out of file descriptors") == 1, err[-2000:]
    assert "Traceback" not in err and len(err.splitlines()) <= 3, err[-2000:]
    assert [s["path"] for s in upstream.seen] == ["/warm"] * IDLE + ["/after"]


def _answer_status(sock: socket.socket) -> bytes:
    """The status line of one answer (the upstream's: JSON with a Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(v) for k, _, v in (x.partition(b":") for x in lines) if k.lower() == b"content-length"
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, body
        body += chunk
    return lines[0]
