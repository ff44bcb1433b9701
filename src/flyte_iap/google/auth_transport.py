"""google-auth's transport interface over our HttpClient.

google-auth does the workload-identity-federation exchange (STS, optional
impersonation) itself; passing it this adapter keeps the tool to one HTTP
stack with one timeout and retry policy, and lets the tool say which call
failed without quoting google-auth's message (it quotes response bodies, and
those may hold the token just sent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from google.auth import exceptions, transport

from flyte_iap.errors import TransportError, shown
from flyte_iap.transport import HttpClient, Response, describe_error

# What an error code looks like (invalid_grant, PERMISSION_DENIED): letters and
# underscores. Anything else a server puts in "error" is not shown: it may be a token.
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z_]{0,39}")


class _Response(transport.Response):
    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self._status = status
        self._headers = headers
        self._data = data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class GoogleAuthRequest(transport.Request):
    """A ``google.auth.transport.Request`` that sends through ``HttpClient``.

    ``steps`` names the call to each known URL ("the STS token exchange"); other URLs
    are ``what``. The last call is remembered, so that :meth:`failure` can say what
    went wrong in the tool's words.
    """

    def __init__(self, http: HttpClient, what: str, steps: Mapping[str, str] | None = None):
        self._http = http
        self._what = what
        self._steps = dict(steps or {})
        self._last: str | None = None
        self._last_ok = False
        #: The name of the last call if it was answered with an error status.
        self.refused_by: str | None = None

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        what = self._steps.get(url, self._what)
        try:
            response = self._http.request(method, url, what=what, data=body, headers=headers)
        except TransportError as exc:
            self._last, self._last_ok = str(exc), False  # our own words: no body, no token
            self.refused_by = None
            raise exceptions.TransportError(str(exc)) from exc  # type: ignore[no-untyped-call]
        self._last = f"{what} at {_host(url)} answered {response.status}"
        self._last_ok = response.ok
        self.refused_by = None if response.ok else what
        code = "" if response.ok else _error_code(response)
        if code:
            self._last += f" ({code})"
        return _Response(response.status, response.headers, response.body)

    def failure(self) -> str | None:
        """The last call and how it ended, for a message; None if no call was made.

        The HTTP status and the error code only, never the body. When the last call
        succeeded, google-auth stopped on its answer (a captive portal's page) or after it.
        """
        if self._last is None or not self._last_ok:
            return self._last
        return f"{self._last} with something google-auth could not use"


def _error_code(response: Response) -> str:
    code, _description = describe_error(response)
    return shown(code) if _ERROR_CODE.fullmatch(code) else ""


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return shown(urlsplit(url).netloc or "?")
