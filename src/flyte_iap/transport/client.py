"""The HTTP client: tries, backoff and the command's network budget (see the package
docstring for the time limits)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping

from flyte_iap.errors import TransportError, UsageError, shown
from flyte_iap.transport.attempt import Connector, Failed, host_of, one_try, without_query
from flyte_iap.transport.response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_TIMEOUT = 10.0
#: The longest FLYTE_IAP_HTTP_TIMEOUT accepted: beyond it, waits overflow the platform's clock.
MAX_TIMEOUT = 600.0
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
#: The backoff sleeps of one call add up to at most this (seconds).
RETRY_WAIT = 10.0


class HttpClient:
    """Sends requests with deadlines and retries (module docstring); ``sleep`` is a seam
    for tests, and the time it is asked to sleep counts against ``budget``.

    ``ca_file``: a PEM file of the CA certificates that https:// answers are verified
    with (a private CA), instead of the system's. ``env``: where proxies and a CA bundle
    are read from (``https_proxy``, ``no_proxy``, ``REQUESTS_CA_BUNDLE``...); None: this
    process's environment. ``budget``: seconds of network time for the client's whole
    life; None: ``tries x timeout + RETRY_WAIT``. ``spent``: seconds spent so far, tries
    as measured and sleeps as asked for. (A plain class: every first fetch builds one,
    and ``dataclasses`` would cost that command more than the class.)
    """

    __slots__ = (
        "_connector", "backoff", "budget", "ca_file", "debug", "env", "sleep", "spent",
        "timeout", "tries",
    )  # fmt: skip

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        tries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        debug: Callable[[str], None] = lambda message: None,
        ca_file: str | None = None,
        env: Mapping[str, str] | None = None,
        budget: float | None = None,
    ) -> None:
        _check_tries(tries)
        if not 0 < timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be above 0 and at most {MAX_TIMEOUT:g} s")
        if budget is None:
            budget = tries * timeout + RETRY_WAIT
        if not 0 < budget < math.inf:
            raise ValueError("budget must be a finite number of seconds above 0")
        self.timeout = timeout
        self.tries = tries
        self.backoff = backoff
        self.sleep = sleep
        self.debug = debug
        self.ca_file = ca_file
        self.env = env
        self.budget: float = budget
        self.spent = 0.0
        self._connector = Connector(env, ca_file)

    def __repr__(self) -> str:
        return f"<HttpClient timeout={self.timeout:g} tries={self.tries} budget={self.budget:g}>"

    def fresh(self) -> HttpClient:
        """A client with the same settings whose budget starts anew (nothing spent)."""
        return HttpClient(
            self.timeout,
            self.tries,
            self.backoff,
            self.sleep,
            self.debug,
            self.ca_file,
            self.env,
            self.budget,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        data: Mapping[str, str] | bytes | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        connect_timeout: float | None = None,
        tries: int | None = None,
    ) -> Response:
        """Send a request; retry blips; raise TransportError when none got through in time.

        ``what`` names the call for messages ("the token endpoint"). Any
        answer that is not retryable, or the last retryable one, is returned
        as is: callers decide what a 4xx means. A body over ``MAX_BODY`` is a
        ProtocolError. ``connect_timeout`` may only shorten the connect phase.
        """
        attempts = self.tries if tries is None else _check_tries(tries)
        sent = dict(headers or {})
        # A compressed body could inflate far past MAX_BODY in memory before it is counted.
        sent.setdefault("Accept-Encoding", "identity")
        send: dict[str, Any] = {"data": data, "json": json_body, "headers": sent, "params": params}
        waited = 0.0
        for attempt in range(1, attempts + 1):
            limit = min(self.timeout, self._left())
            if limit <= 0:
                raise TransportError(
                    f"gave up on {what} at {host_of(url)}: this command's network calls "
                    f"took more than {self.budget:g} s in all"
                )
            self.debug(f"{method} {shown(without_query(url))} ({what}, try {attempt}/{attempts})")
            started = time.monotonic()
            try:
                response: Response | None = one_try(
                    self._connector, method, url, what, limit, connect_timeout, send
                )
                failure = None
            except Failed as exc:
                response, failure = None, exc
                if failure.reason == "timed out":
                    failure.reason = self._timed_out(limit)
            finally:
                self.spent += time.monotonic() - started
            if response is not None and response.status not in RETRYABLE_STATUS:
                return response
            retry_after = response.headers.get("Retry-After") if response is not None else None
            delay = min(self._delay(attempt, retry_after), RETRY_WAIT - waited)
            # No retry after the last try, once 10 s were slept, or with no time left after it.
            if attempt == attempts or waited >= RETRY_WAIT or delay >= self._left():
                if response is not None:
                    return response
                assert failure is not None
                raise TransportError(
                    f"could not reach {what} at {host_of(url)}: {failure.reason}"
                ) from failure.cause
            if response is not None:
                self.debug(f"{what} answered {response.status}; retrying")
            self.sleep(delay)
            waited += delay
            self.spent += delay
        raise AssertionError("unreachable")

    def _left(self) -> float:
        return self.budget - self.spent

    def _timed_out(self, limit: float) -> str:
        if limit < self.timeout:
            return f"timed out: this command's network calls used up their {self.budget:g} s"
        return f"timed out (no complete answer within {limit:g} s; FLYTE_IAP_HTTP_TIMEOUT)"

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isascii() and retry_after.isdigit():
            return min(float(retry_after), RETRY_WAIT)
        return float(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2))


def _check_tries(tries: int) -> int:
    """``tries`` itself; a ValueError below 1 (0 used to mean "the default" by accident)."""
    if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
        raise ValueError(f"tries must be a whole number of at least 1, not {tries!r}")
    return tries


def http_timeout(env: Mapping[str, str]) -> float:
    """``FLYTE_IAP_HTTP_TIMEOUT`` in seconds (default 10); a UsageError unless 0 < it <= 600."""
    raw = env.get("FLYTE_IAP_HTTP_TIMEOUT", str(DEFAULT_TIMEOUT))
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_TIMEOUT:
        raise UsageError(
            f"FLYTE_IAP_HTTP_TIMEOUT is {shown(raw, 40)!r}: give a number of seconds "
            f"above 0 and at most {MAX_TIMEOUT:g}"
        )
    return value
