"""google-auth's transport interface over our HttpClient.

google-auth does the workload-identity-federation exchange (STS, optional
impersonation) itself; passing it this adapter keeps the tool to one HTTP
stack with one timeout and retry policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.auth import exceptions, transport

from flyte_iap.errors import TransportError
from flyte_iap.transport import HttpClient


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
    """A ``google.auth.transport.Request`` that sends through ``HttpClient``."""

    def __init__(self, http: HttpClient, what: str) -> None:
        self._http = http
        self._what = what

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        try:
            response = self._http.request(method, url, what=self._what, data=body, headers=headers)
        except TransportError as exc:
            raise exceptions.TransportError(str(exc)) from exc  # type: ignore[no-untyped-call]
        return _Response(response.status, response.headers, response.body)
