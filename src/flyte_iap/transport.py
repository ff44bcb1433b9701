"""The one HTTP stack: requests, with a timeout on every call and bounded retries.

Retries (at most ``tries`` attempts, exponential backoff) are for connection
errors, timeouts, 429, 500, 502, 503 and 504 only; any other answer is final.
Google's error bodies are turned into ``error: description`` messages, and a
2xx body that is not what Google sends into a :class:`ProtocolError`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from flyte_iap.errors import OAuthError, ProtocolError, TransportError, UsageError

DEFAULT_TIMEOUT = 10.0
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


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
        """The body parsed as JSON; ValueError if it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object, or a ProtocolError naming ``what`` answered."""
        try:
            body = self.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProtocolError(
                f"{what} answered {self.status} with {_kind_of(self)}, not a JSON object"
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


@dataclass
class HttpClient:
    """Sends requests with a timeout and retries; ``sleep`` is a seam for tests."""

    timeout: float = DEFAULT_TIMEOUT
    tries: int = 3
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    debug: Callable[[str], None] = lambda message: None
    session: requests.Session = field(default_factory=requests.Session)

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
        """Send a request; retry blips; raise TransportError when none got through.

        ``what`` names the call for messages ("the token endpoint"). Any
        answer that is not retryable, or the last retryable one, is returned
        as is: callers decide what a 4xx means.
        """
        attempts = tries or self.tries
        timeout = (connect_timeout or self.timeout, self.timeout)
        for attempt in range(1, attempts + 1):
            self.debug(f"{method} {_without_query(url)} ({what}, try {attempt}/{attempts})")
            try:
                raw = self.session.request(
                    method,
                    url,
                    data=data,
                    json=json_body,
                    headers=dict(headers or {}),
                    params=params,
                    timeout=timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                if attempt == attempts:
                    reason = _reason(exc)
                    raise TransportError(
                        f"could not reach {what} at {_host(url)}: {reason}"
                    ) from exc
                self.sleep(self._delay(attempt, None))
                continue
            response = Response(raw.status_code, raw.headers, raw.content, url)
            if response.status not in RETRYABLE_STATUS or attempt == attempts:
                return response
            self.debug(f"{what} answered {response.status}; retrying")
            self.sleep(self._delay(attempt, raw.headers.get("Retry-After")))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isascii() and retry_after.isdigit():
            return min(float(retry_after), 10.0)
        return float(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2))


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
    """(error code, description) from an error body; the status text if it has none."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str):
            return error, str(body.get("error_description") or "")
        if isinstance(error, dict):
            status = str(error.get("status") or error.get("code") or response.status)
            return status, str(error.get("message") or "")
    text = response.text().strip().splitlines()
    first = text[0][:200] if text else ""
    return f"HTTP {response.status}", first


def http_timeout(env: Mapping[str, str]) -> float:
    """``FLYTE_IAP_HTTP_TIMEOUT`` in seconds (default 10); a UsageError if it is not > 0."""
    raw = env.get("FLYTE_IAP_HTTP_TIMEOUT", str(DEFAULT_TIMEOUT))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise UsageError(f"FLYTE_IAP_HTTP_TIMEOUT is {raw!r}: give a number of seconds above 0")
    return value


def _kind_of(response: Response) -> str:
    """What a body looks like, for a message (never the body itself: it may hold a token)."""
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if not response.body:
        return "an empty body"
    return f"a body of type {content_type}" if content_type else "a body of no declared type"


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _reason(exc: requests.RequestException) -> str:
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
    return type(exc).__name__
