"""One try of a request, bounded as a whole: connecting, headers and body.

Socket timeouts bound each read only, so the try runs on a helper thread that the
caller waits for until the deadline; the body is read in small chunks up to
``MAX_BODY``. A try still running at the deadline is abandoned (its socket shut
down where urllib3 allows) and reads as "timed out".
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import requests

from flyte_iap.errors import ProtocolError, shown
from flyte_iap.transport.response import Response

#: The largest body read; Google's answers are a few KiB.
MAX_BODY = 4 * 1024 * 1024
_CHUNK = 16 * 1024


class Failed(Exception):
    """One try that got no answer: why, in words for a message, and what was raised."""

    def __init__(self, reason: str, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


def one_try(
    session: requests.Session,
    method: str,
    url: str,
    what: str,
    limit: float,
    connect_timeout: float | None,
    send: dict[str, Any],
) -> Response:
    """One try with ``session``, ``limit`` seconds in all; Failed if no answer came in time.

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
            raw = session.request(
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
        raise Failed("timed out")
    result = outcome[0]
    if isinstance(result, requests.RequestException):
        raise Failed(_reason(result), result)
    if isinstance(result, BaseException):
        raise result
    return result


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
        f"{what} at {host_of(url)} answered {status} with a body over "
        f"{MAX_BODY // (1024 * 1024)} MiB, which no Google endpoint sends; stopped reading"
    )


def _shut_down(raw: requests.Response) -> None:
    """Wake a read blocked on ``raw``'s socket (urllib3 2.3 and later can)."""
    shutdown = getattr(raw.raw, "shutdown", None)
    if shutdown is not None:
        with contextlib.suppress(Exception):  # released or closed: nothing to wake
            shutdown()


def host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return shown(urlsplit(url).netloc or url, 100)


def without_query(url: str) -> str:
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
