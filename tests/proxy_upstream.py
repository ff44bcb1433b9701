"""The upstream the proxy's tests forward to: a 127.0.0.1 HTTP/1.1 server that answers each
request with what it saw (method, path, headers, the body's SHA-256) and keeps a list of it.

A path in :attr:`Upstream.canned` gets that answer (status, headers, body) instead; a
``101`` is sent as a switch to another protocol would be, and the connection then closed.

Some paths wait for the test instead of the clock, so a test knows where a request is:

- ``/stream…`` sends a first chunk, then waits for :attr:`Upstream.release` before the
  second: a proxy that buffers the answer never shows the first chunk, and hangs;
- ``/held…`` sets :attr:`Upstream.arrived`, then waits for :attr:`Upstream.release`;
- ``/iap-once…`` answers the first request of a server with IAP's 401;
- ``/iap-first…`` answers IAP's 401 to every request carrying the first bearer it saw, but
  only once ``together`` of them are in: they are refused all at once.

A wait is bounded by ``GUARD`` seconds, and the server stops by itself after 60 s: hang
guards for a test that failed to release it.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

IAP_HEADER = "x-goog-iap-generated-response"
GUARD = 60.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        up = self.server
        with up.lock:
            up.seen.append(seen)
            first_request = len(up.seen) == 1
        canned = up.canned.get(self.path)
        if canned is not None:
            return self._canned(*canned)
        if self.path.startswith("/stream"):
            return self._stream()
        if self.path.startswith("/iap-once") and first_request:
            return self._answer(401, b"IAP says no", {IAP_HEADER: "true"})
        if self.path.startswith("/iap-first") and up.is_first_bearer(seen["headers"]):
            try:
                up.gather.wait(GUARD)  # every request with the first bearer is in
            except threading.BrokenBarrierError:
                return self._answer(500, b"fewer came together than expected", {})
            return self._answer(401, b"IAP says no", {IAP_HEADER: "true"})
        if self.path.startswith("/held"):
            up.arrived.set()
            up.release.wait(GUARD)
        self._answer(200, json.dumps(seen).encode(), {"Content-Type": "application/json"})

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in (b"first", b"second"):
            self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece))
            self.wfile.flush()
            if piece == b"first":
                self.server.release.wait(GUARD)
        self.wfile.write(b"0\r\n\r\n")

    def _canned(self, status: int, headers: dict[str, str], body: bytes) -> None:
        if status != 101:
            return self._answer(status, body, headers)
        self.send_response(101)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, port: int = 0, *, together: int = 1, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        if tls is not None:  # an https upstream, with the certificate ``tls`` holds
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.seen: list[dict[str, Any]] = []
        #: path -> (status, headers, body): answered so, whatever came.
        self.canned: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.lock = threading.Lock()
        #: Set when a ``/held`` request is in; the test sets ``release`` to let it (and a
        #: ``/stream`` answer's second chunk) go.
        self.arrived = threading.Event()
        self.release = threading.Event()
        #: ``together``: how many ``/iap-first`` requests with the first bearer are refused
        #: at once.
        self.gather = threading.Barrier(together)
        self._first_bearer: str | None = None
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server_port}"
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()
        self._timer = threading.Timer(60, self.shutdown)  # stops by itself if a test hangs
        self._timer.start()

    def is_first_bearer(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("proxy-authorization")
        with self.lock:
            if self._first_bearer is None:
                self._first_bearer = bearer
            return bearer == self._first_bearer

    def stop(self) -> None:
        self._timer.cancel()
        self.release.set()
        self.gather.abort()
        self.shutdown()
        self.server_close()
        self._thread.join(5)
