"""A request head parsed strictly: its request line, its headers and its body's framing."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab is allowed in a value


class BadRequest(Exception):
    """A request the gate answers itself with ``status`` and then hangs up."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RequestHead:
    """A parsed request line and its headers (names as sent, in order)."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]

    def get(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of every ``name`` header, lower-cased."""
        return {t.strip().lower() for v in self.values(name) for t in v.split(",") if t.strip()}

    @property
    def wants_close(self) -> bool:
        return self.version != "HTTP/1.1" or "close" in self.tokens("connection")


# Headers a request may carry once: with two, which one a check reads and which one the
# application reads could differ (the first token judged, the second one used).
_ONCE = ("host", "proxy-authorization", "authorization")


def parse_head(raw: bytes, max_headers: int) -> RequestHead:
    """The request line and headers of ``raw`` (at most ``max_headers`` of them),
    strictly: :class:`BadRequest` otherwise."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or CONTROL.search(lines[0]):
        raise BadRequest(400, "Malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):  # gRPC's HTTP/2 preface lands here too
        raise BadRequest(505, f"The emulator's IAP gate speaks HTTP/1.1 only, not {version[:10]}")
    if not (target.startswith("/") or (method == "OPTIONS" and target == "*")):
        raise BadRequest(400, "Only origin-form request targets are served")
    if not target.isascii() or not target.isprintable():
        raise BadRequest(400, "The request target must be printable ASCII")
    if len(lines) - 1 > max_headers:
        raise BadRequest(431, "Too many request header fields")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name) or CONTROL.search(value):
            raise BadRequest(400, "Malformed request header field")
        headers.append((name, value.strip(" \t")))
    head = RequestHead(method, target, version, headers)
    for name in _ONCE:
        if len(head.values(name)) > 1:
            raise BadRequest(400, f"More than one {name.title()} header")
    return head


def body_length(head: RequestHead) -> int | None:
    """The body's length; None for a chunked body. Both framings at once, an unknown
    coding or a malformed length is refused (the stuff of request smuggling)."""
    if head.values("transfer-encoding"):
        if head.values("content-length"):
            raise BadRequest(400, "Both Transfer-Encoding and Content-Length")
        if [t.strip().lower() for v in head.values("transfer-encoding") for t in v.split(",")] != [
            "chunked"
        ] or head.version != "HTTP/1.1":
            raise BadRequest(501, "Only the chunked transfer coding is supported")
        return None
    lengths = {t.strip() for v in head.values("content-length") for t in v.split(",")}
    if not lengths:
        return 0
    length = lengths.pop()
    if lengths or not length.isdigit() or not length.isascii() or len(length) > 18:
        raise BadRequest(400, "Malformed Content-Length")
    return int(length)
