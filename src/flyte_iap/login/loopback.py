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

import secrets
import threading
import urllib.parse
from types import TracebackType

from flyte_iap.errors import LoginError
from flyte_iap.login import pages
from flyte_iap.login.callback import HOST, PATH, bind
from flyte_iap.login.verdict import Verdict, denial, error_text

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
    """

    def __init__(
        self,
        *,
        state: str,
        port: int = 0,
        hold: float = DEFAULT_HOLD,
        audience: str = "",
        retry_command: str = "flyte-iap login",
    ) -> None:
        self._state = state
        self._hold = hold
        self.audience = audience
        self.retry_command = retry_command
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._verdict = Verdict()
        self._tab_held = False  # the code came from a browser tab that awaits its page
        self._outcome = b""
        self._reported = threading.Event()
        self._sent = threading.Event()
        self._httpd = bind(port, self)
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
        parts = urllib.parse.urlsplit(text.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return (
                "that is not a URL: paste the whole address from the browser's address bar "
                f"(it starts with {self.redirect_uri})"
            )
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
            self._sent.wait(_SEND_WAIT)

    def outcome_page(self) -> bytes:
        """The page for the tab that brought the code, once the login reported it."""
        if not self._reported.wait(self._hold):
            return pages.notice("Login still running", pages.STILL_RUNNING)
        return self._outcome

    # --- used by the request handler (callback.Receiver) -------------------------------
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
