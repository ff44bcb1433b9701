"""HTTP-free request/response values and Google's error shapes.

Handlers are functions from a :class:`Request` to a :class:`Response`, so they can be
read (and tested) without a socket.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flyte_iap.emulator.config import EmulatorConfig
from flyte_iap.emulator.keys import Es256Key
from flyte_iap.emulator.state import EmulatorState
from flyte_iap.emulator.tokens import TokenMinter

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass
class Request:
    """One parsed HTTP request. ``headers`` has lower-case names; ``form`` holds a
    urlencoded body, ``json`` a JSON one."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    form: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str:
        """A header value by case-insensitive name, or ''."""
        return self.headers.get(name.lower(), "")

    def param(self, name: str) -> str:
        """A parameter from the form, else the JSON body, else the query string; or ''."""
        if name in self.form:
            return self.form[name]
        value = self.json.get(name)
        if isinstance(value, str):
            return value
        return self.query.get(name, "")

    def loggable_params(self) -> dict[str, str]:
        """All parameters flattened to strings (the state redacts the secret ones)."""
        merged = dict(self.query)
        merged.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in self.json.items()})
        merged.update(self.form)
        return merged

    def bearer_token(self) -> str:
        value = self.header("Authorization")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""


@dataclass
class Response:
    """What a handler answers. ``status == 0`` means: drop the connection."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Context:
    """What handlers may use: the config, the state, the minter, the key IAP's gate signs
    its assertions with, and the public URLs."""

    config: EmulatorConfig
    state: EmulatorState
    minter: TokenMinter
    iap_key: Es256Key
    base_url: str

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode("utf-8"), headers=headers or {})


def text_response(status: int, text: str, content_type: str = "text/plain") -> Response:
    return Response(status, text.encode("utf-8"), content_type=f"{content_type}; charset=utf-8")


def redirect(location: str) -> Response:
    return Response(302, b"", content_type="text/html", headers={"Location": location})


def oauth_error(status: int, error: str, description: str) -> Response:
    """The flat error body of Google's OAuth endpoints (token, revoke, STS)."""
    return json_response(status, {"error": error, "error_description": description})


def own_hosts(base_url: str) -> frozenset[str]:
    """The ``Host`` values that name this emulator: 127.0.0.1 or localhost, its port."""
    port = urllib.parse.urlsplit(base_url).port
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    if port == 80:  # the default port may be left out
        hosts |= {"127.0.0.1", "localhost"}
    return frozenset(hosts)


def own_origins(base_url: str) -> frozenset[str]:
    """The ``Origin`` values of this emulator's own pages."""
    return frozenset(f"http://{host}" for host in own_hosts(base_url))


def api_error(code: int, message: str) -> Response:
    """The nested error body of Google's REST APIs (Secret Manager, IAM Credentials)."""
    return json_response(code, api_error_body(code, message))


def api_error_body(code: int, message: str) -> dict[str, Any]:
    status = _STATUS_NAMES.get(code, "UNKNOWN")
    return {"error": {"code": code, "message": message, "status": status}}


def unauthenticated() -> Response:
    return api_error(401, "Request had invalid authentication credentials.")


def oauth_fault_body(status: int) -> dict[str, Any]:
    """A plausible body for an injected failure at an OAuth endpoint."""
    if status == 400:
        return {"error": "invalid_grant", "error_description": "Bad Request"}
    if status == 401:
        return {"error": "invalid_client", "error_description": "Unauthorized"}
    if status == 429:
        return {"error": "rate_limit_exceeded", "error_description": "Rate Limit Exceeded"}
    return {"error": "internal_failure", "error_description": "Backend Error"}
