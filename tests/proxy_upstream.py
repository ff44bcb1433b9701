"""The upstream the proxy's tests forward to: a 127.0.0.1 HTTP/1.1 server that answers each
request with what it saw (method, path, headers, the body's SHA-256) and keeps a list of it.

``/stream…`` answers in two chunks ``PAUSE`` apart; ``/iap-once…`` answers the first request
of a server with IAP's 401; ``/slow…`` waits ``PAUSE`` first. It stops by itself after 60 s.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAUSE = 1.0  # between the two pieces of a streamed answer
IAP_HEADER = "x-goog-iap-generated-response"


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
        self.server.seen.append(seen)
        if self.path.startswith("/stream"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"first", b"second"):
                self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                self.wfile.flush()
                if piece == b"first":
                    time.sleep(PAUSE)
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/iap-once") and len(self.server.seen) == 1:
            return self._answer(401, b"IAP says no", {IAP_HEADER: "true"})
        if self.path.startswith("/slow"):
            time.sleep(PAUSE)
        self._answer(200, json.dumps(seen).encode(), {"Content-Type": "application/json"})

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

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.seen: list[dict[str, Any]] = []
        self.url = f"http://127.0.0.1:{self.server_port}"
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()
        self._timer = threading.Timer(60, self.shutdown)  # stops by itself if a test hangs
        self._timer.start()

    def stop(self) -> None:
        self._timer.cancel()
        self.shutdown()
        self.server_close()
        self._thread.join(5)
