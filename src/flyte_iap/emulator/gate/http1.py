"""HTTP/1.1 on the client side of the gate (over TCP or TLS): a request head read within a
deadline, its body streamed piece by piece, every read and write bounded by
:class:`GateLimits`."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

from flyte_iap.emulator.gate.head import BadRequest

PIECE = 64 * 1024  # the most read or relayed in one go
LAST_CHUNK = b"0\r\n\r\n"
_HEX = re.compile(r"[0-9A-Fa-f]{1,15}")


@dataclass(frozen=True)
class GateLimits:
    """Every bound of the gate, in bytes, seconds and connections."""

    handshake_seconds: float = 10.0  # from accepting a connection to the end of its TLS handshake
    head_bytes: int = 64 * 1024  # request line and headers together
    max_headers: int = 100
    head_seconds: float = 10.0  # from a request's first byte to the end of its head
    idle_seconds: float = 30.0  # a kept-alive connection waiting for its next request
    body_idle_seconds: float = 60.0  # the longest pause inside a request body
    connect_seconds: float = 5.0  # connecting to the upstream
    upstream_idle_seconds: float = 300.0  # the longest pause in the upstream's answer
    send_seconds: float = 60.0  # handing one piece to a slow reader
    drain_bytes: int = 4 * 1024 * 1024  # body read and dropped after a refusal
    max_connections: int = 64


class ClientGone(Exception):
    """The client hung up or stalled mid-request: there is nobody left to answer."""


class Conn:
    """A client socket (plain or TLS) with a read buffer; each call is bounded by its own
    timeout."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()

    def _fill(self, timeout: float) -> None:
        if timeout <= 0:
            raise TimeoutError
        self.sock.settimeout(timeout)
        data = self.sock.recv(PIECE)
        if not data:
            raise EOFError
        self._buf += data

    def read_head(self, limits: GateLimits) -> bytes | None:
        """The next request's head; None when the client closes or idles between requests.
        :class:`BadRequest` (431, 408) for a head too long or too slow."""
        deadline: float | None = None
        while True:
            while self._buf.startswith(b"\r\n"):  # RFC 9112 2.2: ignore empty lines first
                del self._buf[:2]
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0 or len(self._buf) > limits.head_bytes:
                if end < 0 or end + 4 > limits.head_bytes:
                    raise BadRequest(431, "Request header fields too large")
                head = bytes(self._buf[:end])
                del self._buf[: end + 4]
                return head
            if deadline is None and self._buf:
                deadline = time.monotonic() + limits.head_seconds
            try:
                self._fill(limits.idle_seconds if deadline is None else deadline - time.monotonic())
            except (TimeoutError, EOFError, OSError):
                if not self._buf:
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    raise BadRequest(408, "Request headers not received in time") from None
                raise ClientGone from None

    def read_some(self, most: int, timeout: float) -> bytes:
        """Up to ``most`` bytes (at least one); :class:`ClientGone` on EOF or a stall."""
        if not self._buf:
            try:
                self._fill(timeout)
            except (TimeoutError, EOFError, OSError):
                raise ClientGone from None
        data = bytes(self._buf[:most])
        del self._buf[:most]
        return data

    def read_line(self, most: int, timeout: float) -> bytes:
        """One CRLF-terminated line without its CRLF; :class:`BadRequest` when longer."""
        while (end := self._buf.find(b"\r\n")) < 0:
            if len(self._buf) > most:
                raise BadRequest(400, "Malformed chunked body")
            try:
                self._fill(timeout)
            except (TimeoutError, EOFError, OSError):
                raise ClientGone from None
        line = bytes(self._buf[:end])
        del self._buf[: end + 2]
        return line

    def send(self, data: bytes, timeout: float) -> None:
        """All of ``data``, within ``timeout``; :class:`ClientGone` when it cannot be."""
        # One deadline for the whole: a TLS socket's sendall restarts its timeout per write.
        deadline = time.monotonic() + timeout
        view, sent = memoryview(data), 0
        try:
            while sent < len(view):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ClientGone
                self.sock.settimeout(left)
                sent += self.sock.send(view[sent:])
        except OSError:
            raise ClientGone from None

    def linger_close(self, limits: GateLimits) -> None:
        """Close after a final answer: stop sending, drop what the client still sends for
        a moment (so it reads the answer rather than a reset), then close."""
        with contextlib.suppress(OSError):
            # The TCP half under any TLS: an SSLSocket's own shutdown drops the TLS state
            # that the reads below still go through.
            socket.socket.shutdown(self.sock, socket.SHUT_WR)
            deadline, dropped = time.monotonic() + 2.0, 0
            while dropped < limits.drain_bytes and time.monotonic() < deadline:
                self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
                data = self.sock.recv(PIECE)
                if not data:
                    break
                dropped += len(data)
        self.sock.close()


def read_body(conn: Conn, length: int | None, limits: GateLimits) -> Iterator[bytes]:
    """The body's bytes as they arrive: ``length`` of them, or chunked (decoded)."""
    timeout = limits.body_idle_seconds
    if length is not None:
        while length > 0:
            data = conn.read_some(min(length, PIECE), timeout)
            length -= len(data)
            yield data
        return
    while True:
        size_text = conn.read_line(1024, timeout).partition(b";")[0].strip()
        if not _HEX.fullmatch(size_text.decode("latin-1")):
            raise BadRequest(400, "Malformed chunked body")
        size = int(size_text, 16)
        if size == 0:
            break
        while size > 0:
            data = conn.read_some(min(size, PIECE), timeout)
            size -= len(data)
            yield data
        if conn.read_line(2, timeout) != b"":
            raise BadRequest(400, "Malformed chunked body")
    trailers = 0
    while conn.read_line(8 * 1024, timeout) != b"":  # trailers are read and dropped
        trailers += 1
        if trailers > limits.max_headers:
            raise BadRequest(400, "Too many trailer fields")


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)
