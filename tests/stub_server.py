"""A scripted HTTP server on 127.0.0.1: each request gets the next :class:`Reply`, and
what was asked is recorded. For what it cannot do (drip-fed or endless answers) see
``raw_servers``."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Reply:
    """One scripted answer: status, headers, body, and a delay before it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Reply:
        body = json.dumps(payload).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def html(cls, text: str, status: int = 200) -> Reply:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})


class StubServer:
    """Answers every request on 127.0.0.1 with the next scripted :class:`Reply` (the last
    one again when the script runs out) and records what was asked. Stops on exit of the
    ``with`` block, and by itself after ``lifetime`` seconds at the latest."""

    def __init__(self, *replies: Reply, lifetime: float = 60.0) -> None:
        self.replies = list(replies) or [Reply()]
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with stub._lock:
                    stub.requests.append((self.command, self.path, dict(self.headers), body))
                    reply = stub.replies.pop(0) if len(stub.replies) > 1 else stub.replies[0]
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True

    def __enter__(self) -> StubServer:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._timer.cancel()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
