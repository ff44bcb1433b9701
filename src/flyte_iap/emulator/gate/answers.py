"""What the gate says itself: IAP's 401, and its own plain errors."""

from __future__ import annotations

import contextlib
import html

from flyte_iap.emulator.gate.check import PREFIX
from flyte_iap.emulator.gate.head import BadRequest, RequestHead
from flyte_iap.emulator.gate.http1 import ClientGone, Conn, GateLimits, read_body


def refuse(
    conn: Conn, head: RequestHead, length: int | None, reason: str, limits: GateLimits
) -> bool:
    """IAP's 401. An unread body is read and dropped (up to ``drain_bytes``) so the
    connection can serve the next request; a bigger one, or one held back by
    ``Expect: 100-continue``, ends the connection instead."""
    keep = not head.wants_close
    if length != 0:
        keep = keep and "100-continue" not in head.tokens("expect") and _drain(conn, length, limits)
    body = html.escape(PREFIX + reason, quote=False).encode("utf-8")
    conn.send(
        b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html; charset=UTF-8\r\n"
        b"X-Goog-IAP-Generated-Response: true\r\nContent-Length: %d\r\nConnection: %b\r\n"
        b"\r\n%b" % (len(body), b"keep-alive" if keep else b"close", body),
        limits.send_seconds,
    )
    if not keep:
        conn.linger_close(limits)
    return keep


def _drain(conn: Conn, length: int | None, limits: GateLimits) -> bool:
    dropped = 0
    try:
        for data in read_body(conn, length, limits):
            dropped += len(data)
            if dropped > limits.drain_bytes:
                return False
    except BadRequest:
        return False
    return True


def plain(conn: Conn, status: int, message: str, limits: GateLimits) -> None:
    """The gate's own answer (not IAP's: no ``x-goog-iap-generated-response``), then
    the connection ends."""
    body = (message + "\n").encode("utf-8", "replace")
    with contextlib.suppress(ClientGone):
        conn.send(
            b"HTTP/1.1 %d %b\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%b"
            % (status, _PHRASES.get(status, b"Error"), len(body), body),
            limits.send_seconds,
        )
    conn.linger_close(limits)


_PHRASES = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
}
