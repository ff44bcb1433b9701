"""The upstreams the emulator's IAP gate is tested against: a 127.0.0.1 HTTP/1.1 server that
answers what reached it (or streams a Connect answer in two messages, the second only once
the test says so), and what the tests ask of the gate's answers."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

IAP_HEADER = "x-goog-iap-generated-response"


# --- the upstreams ---------------------------------------------------------------------------
class _Upstream(BaseHTTPRequestHandler):
    """``/stream/chunked`` and ``/stream/length``: a Connect server-streaming answer in two
    messages, the second only once the test sets ``server.go_on``; anything else: what
    arrived, as JSON."""

    protocol_version = "HTTP/1.1"
    server: UpstreamServer

    def _body(self) -> tuple[bytes, bool]:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            data = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            return data, True
        return self.rfile.read(int(self.headers.get("Content-Length") or 0)), False

    def _echo(self) -> None:
        body, chunked = self._body()
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": [[name.lower(), value] for name, value in self.headers.items()],
            "chunked": chunked,
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        self.server.seen.append(seen)
        if self.path.startswith("/stream/"):
            return self._stream(self.path.removeprefix("/stream/"))
        answer = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _stream(self, mode: str) -> None:
        first, second = envelope(0, {"n": 1}), envelope(0, {"n": 2}) + envelope(2, {})
        self.send_response(200)
        self.send_header("Content-Type", "application/connect+json")
        if mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(first) + len(second)))
        self.end_headers()
        for piece in (first, second):
            self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece) if mode == "chunked" else piece)
            self.wfile.flush()
            if piece is first and not self.server.go_on.wait(60):
                return  # the test is over without asking for the rest
        if mode == "chunked":
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_HEAD = _echo

    def log_message(self, format: str, *args: Any) -> None:
        pass


def envelope(flags: int, message: dict[str, Any]) -> bytes:
    """One message of the Connect protocol's streaming framing."""
    data = json.dumps(message).encode()
    return bytes([flags]) + len(data).to_bytes(4, "big") + data


class UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Upstream)
        self.seen: list[dict[str, Any]] = []
        self.url = f"http://127.0.0.1:{self.server_port}"
        #: Set by a test once it has read the first message of a streaming answer.
        self.go_on = threading.Event()


def serve(server: UpstreamServer) -> Iterator[UpstreamServer]:
    """``server``, serving for one test (the body of a fixture); it stops by itself if the
    test hangs."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    timer = threading.Timer(60, server.shutdown)  # stops by itself if a test hangs
    timer.start()
    yield server
    timer.cancel()
    server.go_on.set()  # a streaming answer still waiting ends
    server.shutdown()
    server.server_close()
    thread.join(5)


def bearer(token: str) -> dict[str, str]:
    return {"proxy-authorization": f"Bearer {token}"}


def seen_headers(upstream: UpstreamServer, index: int = -1) -> dict[str, str]:
    return dict(upstream.seen[index]["headers"])


def assert_iap_refusal(answer: requests.Response, reason: str) -> None:
    assert answer.status_code == 401
    assert answer.headers[IAP_HEADER] == "true"
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.text == f"Invalid IAP credentials: {reason}"
