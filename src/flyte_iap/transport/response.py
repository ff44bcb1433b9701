"""What came back, and Google's error bodies turned into messages.

A body is described by its type and status, never quoted (it may hold a token);
the server's own words (error codes, descriptions) reach a message only through
:func:`flyte_iap.errors.shown`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from flyte_iap.errors import OAuthError, ProtocolError, shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Response:
    """What came back: status, headers and the raw body. (A plain class: every command's
    first fetch loads this module, and ``dataclasses`` would cost it more than the class.)"""

    __slots__ = ("body", "headers", "status", "url")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, url: str = "") -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url

    def __repr__(self) -> str:  # never the body: it may hold a token
        return f"<Response {self.status} {self.kind()}>"

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
