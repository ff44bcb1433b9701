"""The HTTP side of the loopback server: the socket it binds and the handler of each request."""

from __future__ import annotations

import errno
import http.server
import os
import urllib.parse
from typing import Any, Protocol

from flyte_iap.errors import LoginError, UsageError
from flyte_iap.login import pages
from flyte_iap.login.verdict import Verdict

HOST = "127.0.0.1"
PATH = "/"
# A browser may open a spare connection and never use it (preconnect); on a thread of its
# own it stalls nothing, and this bounds how long that thread lives.
_CONNECTION_TIMEOUT = 5.0


class Receiver(Protocol):
    """What the handler needs of the login that waits for the callback (the LoopbackServer)."""

    retry_command: str

    def judge(self, query: str) -> Verdict:
        """What a callback's query amounts to."""

    def answered(self) -> bool:
        """Whether a verdict was already handed over."""

    def deliver(self, verdict: Verdict, *, tab_held: bool = False) -> bool:
        """Hand ``verdict`` over; False when an earlier one already was."""

    def outcome_page(self) -> bytes:
        """The page for the held tab, once the login reported (or the hold ran out)."""

    def page_sent(self) -> None:
        """The held tab's page is written: the login may go on."""


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # POSIX: a fixed --port must be usable again while the last login's connections sit in
    # TIME_WAIT. Windows: SO_REUSEADDR would let us share a port another program holds.
    allow_reuse_address = os.name != "nt"

    def __init__(self, port: int, receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__((HOST, port), _CallbackHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that hangs up mid-request is not worth a traceback on stderr."""


def bind(port: int, receiver: Receiver) -> _HTTPServer:
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port: use 1-65535, or leave --port out")
    try:
        return _HTTPServer(port, receiver)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise UsageError(
                f"port {port} on {HOST} is in use: pick another with --port, "
                "or leave --port out for a free one"
            ) from exc
        raise UsageError(f"cannot listen on {HOST}:{port} ({exc.strerror})") from exc


class _CallbackHandler(http.server.BaseHTTPRequestHandler):
    timeout = _CONNECTION_TIMEOUT
    server: _HTTPServer

    def do_GET(self) -> None:
        target = urllib.parse.urlsplit(self.path)
        if target.path != PATH:
            self._not_found()
            return
        receiver = self.server.receiver
        verdict = receiver.judge(target.query)
        if verdict.rejected:
            self._send(400, pages.wrong_link(verdict.page, receiver.retry_command))
        elif receiver.answered():
            self._send(409, pages.notice("Already answered", pages.ANSWERED))
        elif verdict.error is not None:
            self._deny(verdict, verdict.error)
        else:
            self._hold_for_outcome(verdict)

    def _deny(self, verdict: Verdict, error: LoginError) -> None:
        retry = self.server.receiver.retry_command
        if error.error == "access_denied":
            self._send(200, pages.denied(retry))
        else:
            self._send(200, pages.browser_error(verdict.browser_error, retry))
        # Answer first, then release the waiting login: it may close the server and exit.
        self.server.receiver.deliver(verdict)

    def _hold_for_outcome(self, verdict: Verdict) -> None:
        receiver = self.server.receiver
        if not receiver.deliver(verdict, tab_held=True):
            self._send(409, pages.notice("Already answered", pages.ANSWERED))
            return
        try:
            self._send(200, receiver.outcome_page())
        finally:
            receiver.page_sent()

    def _not_found(self) -> None:
        self._send(404, pages.notice("Not found", pages.NOT_FOUND, tone="info"))

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_found

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        # no-store and no-referrer among them: the page URL carries the code.
        for name, value in pages.HEADERS:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the access log: stderr belongs to the command's own messages."""
