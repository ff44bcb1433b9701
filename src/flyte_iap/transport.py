"""The one HTTP stack: requests, with a deadline on every call and bounded retries.

Time limits, with ``T`` = ``timeout`` (``FLYTE_IAP_HTTP_TIMEOUT``, default 10 s):

- **One try** has ``T`` seconds in all, from connecting to the last byte of the
  body: not per socket read, so a server that drips a byte at a time cannot
  stretch it. The try runs in a helper thread that the caller waits for until
  the deadline; one still running then is abandoned (its socket is shut down
  where urllib3 allows) and the call reads as "timed out".
- **One call** makes at most ``tries`` tries (3), and its backoff sleeps add up
  to at most ``RETRY_WAIT`` (10 s; a numeric ``Retry-After`` is honoured within
  that): at most ``tries x T + 10 s``.
- **One client** (the command line builds one per command) spends at most
  ``budget`` seconds on the network, tries and sleeps of all its calls together
  (not the time in between, such as a login in the browser); by default as long
  as one call may take, ``tries x T + 10 s`` (40 s by default). A try never
  runs past what is left; a call with nothing left fails at once.

Retries are for connection errors, timeouts, 429, 500, 502, 503 and 504 only;
any other answer is final. A body over ``MAX_BODY`` (4 MiB) is not read on: no
Google answer comes near it. Google's error bodies are turned into
``error: description`` messages, with the server's text made safe to print
(:func:`flyte_iap.errors.shown`); a 2xx body that is not what Google sends
becomes a :class:`ProtocolError`.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from flyte_iap.errors import OAuthError, ProtocolError, TransportError, UsageError, shown

DEFAULT_TIMEOUT = 10.0
#: The longest FLYTE_IAP_HTTP_TIMEOUT accepted: beyond it, waits overflow the platform's clock.
MAX_TIMEOUT = 600.0
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
#: The backoff sleeps of one call add up to at most this (seconds).
RETRY_WAIT = 10.0
#: The largest body read; Google's answers are a few KiB.
MAX_BODY = 4 * 1024 * 1024
_CHUNK = 16 * 1024


@dataclass
class Response:
    """What came back: status, headers and the raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON; ValueError if it is not JSON (or nested too deep to parse)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object, or a ProtocolError naming ``what`` answered."""
        try:
            body = self.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProtocolError(
                f"{what} answered {self.status} with {self.kind()}, not a JSON object"
            )
        return body

    def json_field(self, name: str, what: str) -> str:
        """A non-empty string field of the JSON body, or a ProtocolError naming ``what``."""
        value = self.json_object(what).get(name)
        if not isinstance(value, str) or not value:
            raise ProtocolError(f"{what} returned no {name}")
        return value

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def kind(self) -> str:
        """What the body looks like, for a message ("a body of type text/html", "an empty
        body"): never the body itself, which may hold a token."""
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        if not self.body:
            return "an empty body"
        if not content_type:
            return "a body of no declared type"
        return f"a body of type {shown(content_type, 60)}"


class _Failed(Exception):
    """One try that got no answer: why, in words for a message, and what was raised."""

    def __init__(self, reason: str, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


@dataclass
class HttpClient:
    """Sends requests with deadlines and retries (module docstring); ``sleep`` is a seam
    for tests, and the time it is asked to sleep counts against ``budget``."""

    timeout: float = DEFAULT_TIMEOUT
    tries: int = 3
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    debug: Callable[[str], None] = lambda message: None
    session: requests.Session = field(default_factory=requests.Session)
    #: Seconds of network time for the client's whole life; None: ``tries x timeout + RETRY_WAIT``.
    budget: float | None = None
    #: Seconds spent so far: tries as measured, sleeps as asked for.
    spent: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        _check_tries(self.tries)
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be above 0 and at most {MAX_TIMEOUT:g} s")
        if self.budget is None:
            self.budget = self.tries * self.timeout + RETRY_WAIT
        if not 0 < self.budget < math.inf:
            raise ValueError("budget must be a finite number of seconds above 0")

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
                    f"gave up on {what} at {_host(url)}: this command's network calls "
                    f"took more than {self.budget:g} s in all"
                )
            self.debug(f"{method} {shown(_without_query(url))} ({what}, try {attempt}/{attempts})")
            started = time.monotonic()
            try:
                response: Response | None = self._attempt(
                    method, url, what, limit, connect_timeout, send
                )
                failure = None
            except _Failed as exc:
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
                    f"could not reach {what} at {_host(url)}: {failure.reason}"
                ) from failure.cause
            if response is not None:
                self.debug(f"{what} answered {response.status}; retrying")
            self.sleep(delay)
            waited += delay
            self.spent += delay
        raise AssertionError("unreachable")

    def _attempt(
        self,
        method: str,
        url: str,
        what: str,
        limit: float,
        connect_timeout: float | None,
        send: dict[str, Any],
    ) -> Response:
        """One try, given ``limit`` seconds in all; _Failed if it got no answer in time.

        Socket timeouts bound each read only; the whole try is bounded by waiting
        for the thread that runs it, which is left behind at the deadline.
        """
        deadline = time.monotonic() + limit
        timeouts = (min(connect_timeout or limit, limit), limit)
        outcome: list[Response | BaseException] = []
        streams: list[requests.Response] = []
        abandoned = threading.Event()

        def run() -> None:
            try:
                raw = self.session.request(
                    method, url, **send, timeout=timeouts, allow_redirects=False, stream=True
                )
                streams.append(raw)
                with raw:
                    outcome.append(_read(raw, url, what, deadline, abandoned))
            except BaseException as exc:  # handed to the caller's thread
                outcome.append(exc)

        worker = threading.Thread(target=run, name="flyte-iap-http", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive() or not outcome:
            abandoned.set()
            for raw in streams:
                _shut_down(raw)
            raise _Failed("timed out")
        result = outcome[0]
        if isinstance(result, requests.RequestException):
            raise _Failed(_reason(result), result)
        if isinstance(result, BaseException):
            raise result
        return result

    def _left(self) -> float:
        assert self.budget is not None
        return self.budget - self.spent

    def _timed_out(self, limit: float) -> str:
        if limit < self.timeout:
            return f"timed out: this command's network calls used up their {self.budget:g} s"
        return f"timed out (no complete answer within {limit:g} s; FLYTE_IAP_HTTP_TIMEOUT)"

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isascii() and retry_after.isdigit():
            return min(float(retry_after), RETRY_WAIT)
        return float(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2))


def _read(
    raw: requests.Response, url: str, what: str, deadline: float, abandoned: threading.Event
) -> Response:
    """The body of ``raw`` up to MAX_BODY, in small reads; stops when the try is abandoned."""
    declared = raw.headers.get("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large(what, url, raw.status_code)
    body = bytearray()
    for chunk in raw.iter_content(_CHUNK):
        if abandoned.is_set() or time.monotonic() > deadline:
            raise requests.Timeout("the try's deadline passed")
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large(what, url, raw.status_code)
    return Response(raw.status_code, raw.headers, bytes(body), url)


def _too_large(what: str, url: str, status: int) -> ProtocolError:
    return ProtocolError(
        f"{what} at {_host(url)} answered {status} with a body over "
        f"{MAX_BODY // (1024 * 1024)} MiB, which no Google endpoint sends; stopped reading"
    )


def _shut_down(raw: requests.Response) -> None:
    """Wake a read blocked on ``raw``'s socket (urllib3 2.3 and later can)."""
    shutdown = getattr(raw.raw, "shutdown", None)
    if shutdown is not None:
        with contextlib.suppress(Exception):  # released or closed: nothing to wake
            shutdown()


def _check_tries(tries: int) -> int:
    """``tries`` itself; a ValueError below 1 (0 used to mean "the default" by accident)."""
    if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
        raise ValueError(f"tries must be a whole number of at least 1, not {tries!r}")
    return tries


def raise_for_error(response: Response, what: str, hint: str = "") -> None:
    """Raise OAuthError for a non-2xx answer, worded from Google's error body.

    OAuth endpoints answer ``{"error": "invalid_grant", "error_description": ...}``;
    Google APIs answer ``{"error": {"code", "message", "status"}}``. The
    message is ``what failed: error: description`` plus ``hint`` (the next step).
    """
    if response.ok:
        return
    code, description = describe_error(response)
    message = f"{what} failed ({response.status}): {code}"
    if description:
        message += f": {description}"
    if hint:
        message += f"\n{hint}"
    raise OAuthError(message, error=code, status=response.status)


def describe_error(response: Response) -> tuple[str, str]:
    """(error code, description) from an error body; the status text if it has none.

    Both are the server's words, passed through :func:`shown`: no control
    character, escape or newline reaches the terminal, and each is capped.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str):
            return shown(error), shown(body.get("error_description") or "")
        if isinstance(error, dict):
            status = error.get("status") or error.get("code") or response.status
            return shown(status), shown(error.get("message") or "")
    text = response.text().strip().splitlines()
    return f"HTTP {response.status}", shown(text[0]) if text else ""


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


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return shown(urlsplit(url).netloc or url, 100)


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        # urllib3 2 says so with a type; urllib3 1.26 only in the resolver's words.
        cause = getattr(exc.args[0], "reason", None) if exc.args else None
        text = str(exc)
        if type(cause).__name__ == "NameResolutionError" or any(
            words in text for words in ("Name or service not known", "nodename nor servname")
        ):
            return "host name not found"
        if "Connection refused" in text:
            return "connection refused"
        return "connection failed"
    broken = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    if isinstance(exc, broken):
        return "the answer broke off or could not be decoded"
    return type(exc).__name__
