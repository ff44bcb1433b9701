"""The loopback redirect server of the OAuth 2.0 installed-app flow (RFC 8252 §7.3).

It listens on ``127.0.0.1`` only and hands the authorization code to the login that is
waiting for it. A callback whose ``state`` does not match gets an error page and the
login keeps waiting, so a forged or stale link can neither end nor hijack it (RFC 6749
§10.12).

A callback with a code is answered only once the login knows what the code was worth:
the browser's request is held while the code is exchanged, then gets the page the
login reports (:meth:`LoopbackServer.report_success`, :meth:`~LoopbackServer.report_failure`),
so a tab never says "Login succeeded" for a code Google refused. The hold is bounded
(``hold`` seconds); past it the tab is told to look at the terminal instead. The pages
themselves are :mod:`flyte_iap.login.pages`.
"""

from __future__ import annotations

import errno
import http.server
import os
import secrets
import threading
import urllib.parse
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from flyte_iap.errors import LoginError, UsageError, shown
from flyte_iap.login import pages

HOST = "127.0.0.1"
PATH = "/"
# A browser may open a spare connection and never use it (preconnect); on a thread of its
# own it stalls nothing, and this bounds how long that thread lives.
_CONNECTION_TIMEOUT = 5.0
# How long a report waits for the held tab's page to be written before the login goes on
# (and may close the server and exit).
_SEND_WAIT = 5.0
#: How long a tab is held for the outcome when the login does not say.
DEFAULT_HOLD = 60.0


class LoopbackServer:
    """Receives the OAuth redirect on 127.0.0.1 only.

    Binds at once (``port=0``: a free ephemeral port) and serves on a daemon thread until
    :meth:`close`, so a redirect arriving before :meth:`wait` is called is not lost. Only
    the first valid result (a code, or an ``error`` with the right ``state``) counts. The
    tab that brought a code waits up to ``hold`` seconds for the login to report how the
    code's exchange went. ``audience`` (the token's, named on the success page) and
    ``retry_command`` (on every page that ends the login badly) are for the pages only.
    A report waits up to ``send_wait`` seconds for the held tab's page to be written.
    """

    def __init__(
        self,
        *,
        state: str,
        port: int = 0,
        hold: float = DEFAULT_HOLD,
        audience: str = "",
        retry_command: str = "flyte-iap login",
        send_wait: float = _SEND_WAIT,
    ) -> None:
        self._state = state
        self._hold = hold
        self._send_wait = send_wait
        self.audience = audience
        self.retry_command = retry_command
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._verdict = Verdict()
        self._tab_held = False  # the code came from a browser tab that awaits its page
        self._outcome = b""
        self._reported = threading.Event()
        self._sent = threading.Event()
        self._httpd = _bind(port, self)
        self.redirect_uri = f"http://{HOST}:{self._httpd.server_port}{PATH}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # how soon close() returns
            name="flyte-iap-loopback",
            daemon=True,
        )
        self._thread.start()

    def wait(self, timeout: float) -> str:
        """Block until a valid callback (or pasted URL) arrives; return its code.

        Raises :class:`LoginError` when the browser reports an error, or after ``timeout``
        seconds without a result.
        """
        if not self._done.wait(timeout):
            raise LoginError(
                f"no login within {timeout:g} s (nothing came back to {self.redirect_uri}); "
                "run the command again, or raise --timeout"
            )
        if self._verdict.error is not None:
            raise self._verdict.error
        return self._verdict.code

    def report_success(self, account: str) -> None:
        """Show the waiting tab that the login succeeded as ``account``, for the audience.
        Nothing to do when the code was pasted: no tab is waiting."""
        self._report(pages.success(account, self.audience))

    def report_failure(self, reason: str) -> None:
        """Show the waiting tab that the login failed: ``reason`` in one line (no secret),
        and the command to run again."""
        self._report(pages.failure(reason, self.retry_command))

    def submit_pasted_url(self, text: str) -> str | None:
        """Take the URL the browser was redirected to, pasted by the person.

        It is judged exactly like a callback. Returns None when it is accepted (then
        :meth:`wait` returns its code or raises its error), else a one-line reason to show
        before asking again.
        """
        not_a_url = (
            "that is not a URL: paste the whole address from the browser's address bar "
            f"(it starts with {self.redirect_uri})"
        )
        try:
            parts = urllib.parse.urlsplit(text.strip())
        except ValueError:  # a bracket that closes no IPv6 host: "http://[/?code=…"
            return not_a_url
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return not_a_url
        verdict = self.judge(parts.query)
        if verdict.rejected:
            return verdict.rejected
        self.deliver(verdict)
        return None

    def close(self) -> None:
        """Answer a tab still held (the login ended without a report), stop serving and
        close the socket; idempotent."""
        self._report(pages.notice("Login ended", pages.ENDED))
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the outcome page ----------------------------------------------------------------
    def _report(self, page: bytes) -> None:
        """Give the held tab ``page`` (the first report wins) and wait, briefly, until it
        is written: the login may close the server and exit right after."""
        with self._lock:
            if not self._reported.is_set():
                self._outcome = page
                self._reported.set()
            held = self._tab_held
        if held:
            self._sent.wait(self._send_wait)

    def outcome_page(self) -> bytes:
        """The page for the tab that brought the code, once the login reported it."""
        if not self._reported.wait(self._hold):
            return pages.notice("Login still running", pages.STILL_RUNNING)
        return self._outcome

    # --- used by the request handler ------------------------------------------------------
    def judge(self, query: str) -> Verdict:
        """What a callback's query (or a pasted URL's) amounts to."""
        params = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        state = params.get("state", "")
        if not state or not secrets.compare_digest(state.encode(), self._state.encode()):
            return Verdict(
                rejected="this login link does not belong to the running login (its state "
                "does not match): use the URL of the login this command started",
                page=pages.FOREIGN,
            )
        if params.get("error"):
            return Verdict(error=denial(params), browser_error=error_text(params))
        if not params.get("code"):
            return Verdict(
                rejected="the URL has no code: paste the address the browser shows after "
                "you chose Allow",
                page=pages.NO_CODE,
            )
        return Verdict(code=params["code"])

    def deliver(self, verdict: Verdict, *, tab_held: bool = False) -> bool:
        """Hand ``verdict`` to the waiting login; False when an earlier one already was."""
        with self._lock:
            if self._done.is_set():
                return False
            self._verdict = verdict
            self._tab_held = tab_held
            self._done.set()
            return True

    def answered(self) -> bool:
        """Whether a verdict was already handed to the login."""
        return self._done.is_set()

    def page_sent(self) -> None:
        """The held tab's page is written: a report waiting for it may return."""
        self._sent.set()


# --- the verdict on a callback ----------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What one callback (or pasted URL) amounts to: a code, an error, or a rejection."""

    code: str = ""
    error: LoginError | None = None
    rejected: str = ""  # why a pasted URL is refused, for the person at the prompt
    page: str = ""  # the same, for the browser tab
    # The browser's own error, as it came (made safe when shown): for the tab.
    browser_error: str = ""


def error_text(params: dict[str, str]) -> str:
    """``error: error_description`` of the browser's ``error`` redirect, as it came."""
    description = params.get("error_description", "")
    return f"{params['error']}: {description}" if description else params["error"]


def denial(params: dict[str, str]) -> LoginError:
    """The browser's ``error`` redirect as a LoginError; its text, from whoever sent the
    redirect, is made safe for a terminal with :func:`shown`."""
    error = params["error"]
    if error == "access_denied":
        message = (
            "the login was denied in the browser (access_denied); "
            "run the command again and choose Allow"
        )
    else:
        detail = shown(error_text(params))
        message = f"the login failed in the browser ({detail}); run the command again"
    return LoginError(message, error=error)


# --- the HTTP side: the socket and the handler of each request --------------------------


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # POSIX: a fixed --port must be usable again while the last login's connections sit in
    # TIME_WAIT. Windows: SO_REUSEADDR would let us share a port another program holds.
    allow_reuse_address = os.name != "nt"

    def __init__(self, port: int, login: LoopbackServer) -> None:
        self.login = login
        super().__init__((HOST, port), _CallbackHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that hangs up mid-request is not worth a traceback on stderr."""


def _bind(port: int, login: LoopbackServer) -> _HTTPServer:
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port: use 1-65535, or leave --port out")
    try:
        return _HTTPServer(port, login)
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
        login = self.server.login
        verdict = login.judge(target.query)
        if verdict.rejected:
            self._send(400, pages.wrong_link(verdict.page, login.retry_command))
        elif login.answered():
            self._send(409, pages.notice("Already answered", pages.ANSWERED))
        elif verdict.error is not None:
            self._deny(verdict, verdict.error)
        else:
            self._hold_for_outcome(verdict)

    def _deny(self, verdict: Verdict, error: LoginError) -> None:
        retry = self.server.login.retry_command
        if error.error == "access_denied":
            self._send(200, pages.denied(retry))
        else:
            self._send(200, pages.browser_error(verdict.browser_error, retry))
        # Answer first, then release the waiting login: it may close the server and exit.
        self.server.login.deliver(verdict)

    def _hold_for_outcome(self, verdict: Verdict) -> None:
        login = self.server.login
        if not login.deliver(verdict, tab_held=True):
            self._send(409, pages.notice("Already answered", pages.ANSWERED))
            return
        try:
            self._send(200, login.outcome_page())
        finally:
            login.page_sent()

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
