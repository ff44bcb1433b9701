"""The :class:`Gate`: Identity-Aware Proxy in front of an upstream, on a 127.0.0.1 port,
over HTTP or HTTPS."""

from __future__ import annotations

import contextlib
import enum
import socket
import socketserver
import ssl
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from flyte_iap.emulator.gate.answers import plain, refuse
from flyte_iap.emulator.gate.check import PROXY_AUTHORIZATION, Expectations, admit
from flyte_iap.emulator.gate.head import BadRequest, RequestHead, body_length, parse_head
from flyte_iap.emulator.gate.http1 import ClientGone, Conn, GateLimits
from flyte_iap.emulator.gate.identity import SignedHeader, identity_headers
from flyte_iap.emulator.gate.relay import Upstream, UpstreamFailure, forwarded_headers, relay

_LOG_SIZE = 1000  # records kept; the oldest go first


class Outcome(enum.StrEnum):
    """What the gate did with a request. Each outcome is its word (``"allowed"``...), so a
    record compares with, and prints as, plain text."""

    ALLOWED = "allowed"  # the bearer passed; the request went to the upstream
    REFUSED = "refused"  # IAP's 401; the upstream never saw it
    UNCHECKED = "unchecked"  # a gate started with ``check=False`` passes everything on


class GateRecord(NamedTuple):
    """One request as the gate judged it. ``detail``: the token's claims when
    :attr:`~Outcome.ALLOWED`, IAP's reason when :attr:`~Outcome.REFUSED`, '' when
    :attr:`~Outcome.UNCHECKED`."""

    method: str
    path: str
    verdict: Outcome
    detail: dict[str, Any] | str


class Gate:
    """Checks each request's bearer as IAP does (``expect``; None lets everything through,
    as a load balancer without IAP would) and streams the allowed ones to ``upstream``,
    with IAP's identity headers (and, given ``signed``, its signed assertion). With
    ``tls`` (a server context) it speaks HTTPS, each handshake bounded by ``limits``."""

    def __init__(
        self,
        upstream: str,
        expect: Expectations | None,
        *,
        port: int = 0,
        limits: GateLimits | None = None,
        signed: SignedHeader | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream = Upstream.parse(upstream)
        self.expect = expect
        self.limits = limits or GateLimits()
        self.signed = signed
        self._tls = tls
        self._port = port
        self._log: deque[GateRecord] = deque(maxlen=_LOG_SIZE)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Gate:
        """Bind 127.0.0.1 and serve on a daemon thread."""
        if self._server is None:
            self._server = _Server(self, self._port)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="iap-gate",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut every open connection (client and upstream), free the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                # The TCP connection itself: an SSLSocket's own shutdown would also drop the
                # TLS state another thread is reading through.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    @property
    def scheme(self) -> str:
        """``https`` when the gate speaks TLS, else ``http``."""
        return "https" if self._tls is not None else "http"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` over TLS); only once started."""
        if self._server is None:
            raise RuntimeError("the IAP gate is not started")
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    @property
    def log(self) -> list[GateRecord]:
        """A copy of the records, in arrival order."""
        with self._lock:
            return list(self._log)

    # --- one connection ------------------------------------------------------------
    def serve_connection(self, sock: socket.socket, client_ip: str) -> None:
        """Serve requests on ``sock`` until it closes, idles, or one cannot be kept."""
        if not self._slots.acquire(blocking=False):
            if self._tls is None:  # over TLS nothing can be said before a handshake
                plain(Conn(sock), 503, "The IAP gate has too many open connections.", self.limits)
            return
        try:
            if self._tls is None:
                self._serve(sock, client_ip)
                return
            tls = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            try:
                self._serve(tls, client_ip)
            finally:
                tls.close()  # the server closes only the plain socket it accepted
        finally:
            self._slots.release()

    def _serve(self, sock: socket.socket, client_ip: str) -> None:
        with self._lock:
            self._sockets.add(sock)  # from now on, stop() can cut it, handshake or not
        try:
            if not isinstance(sock, ssl.SSLSocket) or _handshake(sock, self.limits):
                conn = Conn(sock)
                while self._serve_one(conn, client_ip):
                    pass
        finally:
            with self._lock:
                self._sockets.discard(sock)

    def _serve_one(self, conn: Conn, client_ip: str) -> bool:
        limits = self.limits
        try:
            raw = conn.read_head(limits)
            if raw is None:
                return False
            head = parse_head(raw, limits.max_headers)
            return self._answer(conn, head, body_length(head), client_ip)
        except (BadRequest, UpstreamFailure) as exc:
            status = exc.status
            plain(conn, status, str(exc) if status >= 500 else f"Bad request: {exc}.", self.limits)
        except ClientGone:
            pass
        return False

    def _answer(self, conn: Conn, head: RequestHead, length: int | None, client_ip: str) -> bool:
        path = head.target.partition("?")[0]
        where = {"gate_host": self._host, "client_ip": client_ip, "scheme": self.scheme}
        if self.expect is None:
            self._record(GateRecord(head.method, path, Outcome.UNCHECKED, ""))
            headers = forwarded_headers(head, [], drop=frozenset(), **where)
        else:
            verdict = admit(head.get("proxy-authorization"), head.get("authorization"), self.expect)
            if verdict.claims is None:
                self._record(GateRecord(head.method, path, Outcome.REFUSED, verdict.reason))
                return refuse(conn, head, length, verdict.reason, self.limits)
            self._record(GateRecord(head.method, path, Outcome.ALLOWED, verdict.claims))
            used = frozenset({PROXY_AUTHORIZATION, verdict.via})  # see admit: what IAP keeps
            identity = identity_headers(verdict.claims, self.signed)
            headers = forwarded_headers(head, identity, drop=used, **where)
        track = self._tracker()
        return relay(conn, head, length, headers, self.upstream, self.limits, track)

    @property
    def _host(self) -> str:
        return self.url.partition("://")[2]

    def _record(self, record: GateRecord) -> None:
        with self._lock:
            self._log.append(record)

    def _tracker(self) -> Callable[[socket.socket | None], None]:
        current: list[socket.socket] = []

        def track(sock: socket.socket | None) -> None:
            with self._lock:
                for old in current:
                    self._sockets.discard(old)
                current.clear()
                if sock is not None:
                    current.append(sock)
                    self._sockets.add(sock)

        return track


def _handshake(sock: ssl.SSLSocket, limits: GateLimits) -> bool:
    """The TLS handshake, within ``handshake_seconds`` however the client drips it (ssl
    bounds the whole handshake by the socket's timeout); False when it fails or runs out
    of time."""
    try:
        sock.settimeout(limits.handshake_seconds)
        sock.do_handshake()
    except OSError:  # ssl.SSLError, TimeoutError, a reset: nobody to answer
        return False
    return True


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, gate: Gate, port: int) -> None:
        self.gate = gate
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.gate.serve_connection(self.request, str(self.client_address[0]))
