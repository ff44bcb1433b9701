"""Where allowed requests go (:class:`Upstream`), and one request passed on to it and its
answer passed back, both streamed."""

from __future__ import annotations

import contextlib
import http.client
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from flyte_iap.emulator.gate.head import CONTROL, RequestHead
from flyte_iap.emulator.gate.http1 import LAST_CHUNK, PIECE, Conn, GateLimits, chunk, read_body


class GateConfigError(ValueError):
    """An upstream URL the gate cannot pass requests on to."""


@dataclass(frozen=True)
class Upstream:
    """Where allowed requests go: ``http://host:port`` and an optional path prefix."""

    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Upstream:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port or 80
        except ValueError:
            raise GateConfigError(f"{url!r} has no valid port") from None
        if parts.scheme != "http" or not parts.hostname:
            raise GateConfigError(f"{url!r} is not an http://HOST[:PORT] URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise GateConfigError(f"{url!r} may not carry a user, a query or a fragment")
        if CONTROL.search(url) or " " in url or "\\" in url:
            raise GateConfigError("the upstream URL holds spaces or control characters")
        return cls(parts.hostname, port, parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.prefix}"


# Hop-by-hop headers (RFC 9110 7.6.1) and what a load balancer in front of IAP sets
# itself; a client's own values for these never reach the upstream.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding"}
    | {"upgrade", "proxy-authenticate", "content-length", "expect"}
)
_SET_BY_FRONT = frozenset({"x-forwarded-proto", "x-forwarded-host", "x-forwarded-for"})
# IAP strips every x-goog-* header a client sent ("Securing your app with signed headers"),
# so the identity headers the application reads can only be IAP's own.
_IAP_PREFIX = "x-goog-"


def _canonical(name: str) -> str:
    """A header's name as an application may read it: CGI and WSGI servers turn both ``-``
    and ``_`` into ``_`` (``X_Goog_Authenticated_User_Email`` arrives as IAP's header), so a
    look-alike is judged, and dropped, as the header it stands for."""
    return name.lower().replace("_", "-")


def forwarded_headers(
    head: RequestHead,
    added: list[tuple[str, str]],
    *,
    drop: frozenset[str],
    gate_host: str,
    client_ip: str,
    scheme: str,
) -> list[tuple[str, str]]:
    """The client's headers minus hop-by-hop ones, those the front sets, any ``x-goog-*``
    (and ``drop``), plus the front's own: ``X-Forwarded-*`` (``scheme``: what the client
    spoke to the gate), ``Via`` and ``added`` (the identity)."""
    skip = _HOP_BY_HOP | _SET_BY_FRONT | head.tokens("connection") | drop
    kept = [
        (name, value)
        for name, value in head.headers
        if _canonical(name) not in skip and not _canonical(name).startswith(_IAP_PREFIX)
    ]
    chain = [*head.values("x-forwarded-for"), client_ip]
    host = head.get("host")
    if host is None:  # HTTP/1.0 may leave it out; the upstream speaks HTTP/1.1
        host = gate_host
        kept.insert(0, ("Host", host))
    return [
        *kept,
        ("X-Forwarded-For", ", ".join(chain)),
        ("X-Forwarded-Proto", scheme),
        ("X-Forwarded-Host", host),
        ("Via", "1.1 google"),
        *added,
    ]


class UpstreamFailure(Exception):
    """The upstream could not be reached, or broke off before answering; nothing has
    been sent to the client yet. ``status``: 502, or 504 when it was too slow."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def relay(
    conn: Conn,
    head: RequestHead,
    length: int | None,
    headers: list[tuple[str, str]],
    upstream: Upstream,
    limits: GateLimits,
    track: Callable[[socket.socket | None], None],
) -> bool:
    """Pass ``head`` and its body (``length``, None: chunked) on, and the answer back.
    True when the client's connection may serve another request. ``track`` is told the
    upstream socket while it is open (so a stopping gate can cut it)."""
    origin = http.client.HTTPConnection(upstream.host, upstream.port, limits.connect_seconds)
    try:
        try:
            origin.connect()
        except OSError as exc:
            raise UpstreamFailure(502, f"cannot connect to {upstream.url} ({_why(exc)})") from exc
        assert origin.sock is not None
        origin.sock.settimeout(limits.upstream_idle_seconds)
        track(origin.sock)
        _send_request(origin, conn, head, upstream.prefix + head.target, length, headers, limits)
        try:
            answer = origin.getresponse()
        except TimeoutError as exc:
            raise UpstreamFailure(504, f"{upstream.url} did not answer in time") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamFailure(502, f"{upstream.url} gave no answer ({_why(exc)})") from exc
        return _relay_answer(conn, head, answer, limits)
    finally:
        track(None)
        origin.close()


def _send_request(
    origin: http.client.HTTPConnection,
    conn: Conn,
    head: RequestHead,
    target: str,
    length: int | None,
    headers: list[tuple[str, str]],
    limits: GateLimits,
) -> None:
    """The request line, headers and body, the body streamed as the client sends it."""
    origin.putrequest(head.method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in headers:
        origin.putheader(name, value)
    if length is None:
        origin.putheader("Transfer-Encoding", "chunked")
    elif length or head.method in ("POST", "PUT", "PATCH"):
        origin.putheader("Content-Length", str(length))
    try:
        origin.endheaders()
        if length != 0 and "100-continue" in head.tokens("expect"):
            conn.send(b"HTTP/1.1 100 Continue\r\n\r\n", limits.send_seconds)
        for data in read_body(conn, length, limits):
            origin.send(chunk(data) if length is None else data)
        if length is None:
            origin.send(LAST_CHUNK)
    except OSError as exc:
        raise UpstreamFailure(502, f"the upstream broke off the request ({_why(exc)})") from exc


def _relay_answer(
    conn: Conn, head: RequestHead, answer: http.client.HTTPResponse, limits: GateLimits
) -> bool:
    """Status line, end-to-end headers, then the body as it comes: with the upstream's
    Content-Length when it gave one, else chunked (HTTP/1.0: until the connection ends)."""
    keep = not head.wants_close
    no_body = head.method == "HEAD" or answer.status in (204, 304) or answer.status < 200
    length = answer.getheader("Content-Length") or ""
    sized = length.isdigit() and answer.getheader("Transfer-Encoding") is None
    chunked = not sized and head.version == "HTTP/1.1"
    if not no_body and not sized and not chunked:
        keep = False  # an HTTP/1.0 client learns the end of the body from the close
    named = {t.strip().lower() for t in (answer.getheader("Connection") or "").split(",")}
    lines = [f"HTTP/1.1 {answer.status} {_reason(answer)}"]
    for name, value in answer.msg.items():
        lowered = name.lower()
        if lowered in _HOP_BY_HOP or lowered in named or CONTROL.search(value):
            continue
        lines.append(f"{name}: {value}")
    if sized and (no_body or not chunked):
        lines.append(f"Content-Length: {length}")
    elif chunked and not no_body:
        lines.append("Transfer-Encoding: chunked")
    lines.append("Connection: keep-alive" if keep else "Connection: close")
    conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"), limits.send_seconds)
    if no_body:
        return keep
    try:
        while data := answer.read1(PIECE):
            conn.send(chunk(data) if chunked else data, limits.send_seconds)
    except (OSError, http.client.HTTPException):
        return False  # cut off mid-answer: the client sees a truncated body
    if answer.length:  # the upstream closed before its Content-Length was reached
        return False
    if chunked:
        conn.send(LAST_CHUNK, limits.send_seconds)
    return keep


def _reason(answer: http.client.HTTPResponse) -> str:
    reason = answer.reason or ""
    if reason and reason.isascii() and reason.isprintable():
        return reason
    with contextlib.suppress(ValueError):
        return HTTPStatus(answer.status).phrase
    return "Unknown"


def _why(exc: BaseException) -> str:
    """An exception in a few words: its strerror, else its text, else its type."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:120]
