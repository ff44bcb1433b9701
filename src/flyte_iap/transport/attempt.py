"""One try of a request, bounded as a whole: connecting, headers and body.

Written on the standard library's ``http.client`` and ``ssl``: the HTTP stack a first
fetch pays for at start-up is the one it needs (``requests`` cost a service account's
first token more than everything else the command does). What requests did on the way
is done here, explicitly:

- TLS is verified against the CA bundle of ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``
  when set (as requests honours them), else the system's and certifi's; a private CA's
  file (``ca_file``) alone when given;
- a proxy is taken from ``https_proxy`` / ``http_proxy`` (either case; ``HTTP_PROXY``
  not when ``REQUEST_METHOD`` says this is a CGI script), and skipped for a host that
  ``no_proxy`` names and for loopback; an ``https://`` URL goes through it in a CONNECT
  tunnel, with the proxy URL's user and password as Basic credentials;
- redirects are not followed, and the answer is asked for uncompressed.

Socket timeouts bound each read only, so the try runs on a helper thread that the
caller waits for until the deadline; the body is read in small chunks up to
``MAX_BODY``. A try still running at the deadline is abandoned (its socket shut down,
which wakes a blocked read) and reads as "timed out".
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from urllib.parse import unquote, urlencode, urlsplit

from flyte_iap.errors import ProtocolError, shown
from flyte_iap.hosts import in_brackets, is_loopback
from flyte_iap.transport.response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The largest body read; Google's answers are a few KiB.
MAX_BODY = 4 * 1024 * 1024
_CHUNK = 16 * 1024
_USER_AGENT = "flyte-iap"


class Failed(Exception):
    """One try that got no answer: why, in words for a message, and what was raised."""

    def __init__(self, reason: str, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


class Headers(Mapping[str, str]):
    """An answer's headers, looked up without regard to case (the last of a repeated
    header wins, as a mapping can hold one)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._items = {name.lower(): (name, value) for name, value in pairs}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class Connector:
    """Where a URL's connection goes and how its TLS is verified, from the environment
    (``env``; default: this process's) and a private CA's file."""

    def __init__(self, env: Mapping[str, str] | None = None, ca_file: str | None = None) -> None:
        self.env = os.environ if env is None else env
        self.ca_file = ca_file
        self._tls: ssl.SSLContext | None = None

    def tls(self) -> ssl.SSLContext:
        if self._tls is None:
            bundle = self.ca_file or self.env.get("REQUESTS_CA_BUNDLE")
            bundle = bundle or self.env.get("CURL_CA_BUNDLE")
            if bundle:
                self._tls = ssl.create_default_context(cafile=bundle)
            else:
                self._tls = ssl.create_default_context()
                with contextlib.suppress(ImportError, OSError):
                    import certifi

                    self._tls.load_verify_locations(certifi.where())
        return self._tls

    def proxy(self, scheme: str, host: str) -> str | None:
        """The proxy URL for ``scheme`` to ``host``, or None to connect directly."""
        if is_loopback(in_brackets(host)) or self._bypassed(host):
            return None
        names = [f"{scheme}_proxy", "all_proxy"]
        found = None
        for name in names:
            found = self.env.get(name) or (
                None
                if name.upper() == "HTTP_PROXY" and "REQUEST_METHOD" in self.env
                else self.env.get(name.upper())
            )
            if found:
                break
        return found or None

    def _bypassed(self, host: str) -> bool:
        listed = self.env.get("no_proxy") or self.env.get("NO_PROXY") or ""
        host = host.lower().rstrip(".")
        for entry in (e.strip().lower() for e in listed.split(",")):
            entry = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
            entry = entry.lstrip(".").rstrip(".").strip("[]")
            if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
                return True
        return False

    def open(self, url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
        """A connection for ``url`` (not yet connected) and the request target to send."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        proxy = self.proxy(parts.scheme, host)
        if proxy is None:
            if parts.scheme == "https":
                return http.client.HTTPSConnection(
                    host, port, timeout=timeout, context=self.tls()
                ), target
            return http.client.HTTPConnection(host, port, timeout=timeout), target
        via = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        if via.scheme != "http" or not via.hostname:
            raise Failed(f"the proxy {shown(via.hostname or proxy, 80)} is not an http:// proxy")
        headers = {}
        if via.username is not None:
            login = f"{unquote(via.username)}:{unquote(via.password or '')}"
            headers["Proxy-Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
        proxy_port = via.port or 80
        if parts.scheme == "https":
            tunnel = http.client.HTTPSConnection(
                via.hostname, proxy_port, timeout=timeout, context=self.tls()
            )
            tunnel.set_tunnel(host, port, headers=headers)
            return tunnel, target
        plain = _ViaProxy(via.hostname, proxy_port, timeout=timeout)
        plain.proxy_headers = headers
        return plain, url  # a proxy takes the absolute URL


class _ViaProxy(http.client.HTTPConnection):
    proxy_headers: dict[str, str]


def one_try(
    connector: Connector,
    method: str,
    url: str,
    what: str,
    limit: float,
    connect_timeout: float | None,
    send: dict[str, Any],
) -> Response:
    """One try, ``limit`` seconds in all; Failed if no answer came in time.

    Socket timeouts bound each read only; the whole try is bounded by waiting for the
    thread that runs it, which is left behind at the deadline (its socket shut down).
    """
    deadline = time.monotonic() + limit
    outcome: list[Response | BaseException] = []
    opened: list[http.client.HTTPConnection] = []
    connected = threading.Event()
    abandoned = threading.Event()
    body, headers = _body(send)
    full = url
    if send.get("params"):
        full += ("&" if "?" in url else "?") + urlencode(send["params"])

    def run() -> None:
        try:
            conn, target = connector.open(full, min(connect_timeout or limit, limit))
            opened.append(conn)
            with contextlib.closing(conn):
                conn.connect()
                connected.set()
                if conn.sock is not None:
                    conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
                if isinstance(conn, _ViaProxy):
                    headers.update(conn.proxy_headers)
                conn.request(method, target, body=body, headers=headers)
                answer = conn.getresponse()
                outcome.append(_read(answer, url, what, deadline, abandoned))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=run, name="flyte-iap-http", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive() or not outcome:
        abandoned.set()
        for conn in opened:
            _shut_down(conn)
        raise Failed("timed out" if connected.is_set() else "timed out connecting")
    result = outcome[0]
    if isinstance(result, OSError | http.client.HTTPException) and not isinstance(
        result, ProtocolError
    ):
        raise Failed(_reason(result, connected.is_set()), result)
    if isinstance(result, BaseException):
        raise result
    return result


def _body(send: dict[str, Any]) -> tuple[bytes | None, dict[str, str]]:
    headers = {"User-Agent": _USER_AGENT, "Accept": "*/*", **(send.get("headers") or {})}
    data, json_body = send.get("data"), send.get("json")
    if json_body is not None:
        import json

        headers.setdefault("Content-Type", "application/json")
        return json.dumps(json_body).encode("utf-8"), headers
    if isinstance(data, Mapping):
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urlencode(data).encode("ascii"), headers
    return data, headers


def _read(
    answer: http.client.HTTPResponse,
    url: str,
    what: str,
    deadline: float,
    abandoned: threading.Event,
) -> Response:
    """The body of ``answer`` up to MAX_BODY, in small reads; stops when the try is
    abandoned or its deadline passes."""
    declared = answer.getheader("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large(what, url, answer.status)
    body = bytearray()
    while chunk := answer.read1(_CHUNK) if hasattr(answer, "read1") else answer.read(_CHUNK):
        if abandoned.is_set() or time.monotonic() > deadline:
            raise TimeoutError("the try's deadline passed")
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large(what, url, answer.status)
    return Response(answer.status, Headers(answer.getheaders()), bytes(body), url)


def _too_large(what: str, url: str, status: int) -> ProtocolError:
    return ProtocolError(
        f"{what} at {host_of(url)} answered {status} with a body over "
        f"{MAX_BODY // (1024 * 1024)} MiB, which no Google endpoint sends; stopped reading"
    )


def _shut_down(conn: http.client.HTTPConnection) -> None:
    """Wake a read blocked on ``conn``'s socket."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def host_of(url: str) -> str:
    return shown(urlsplit(url).netloc or url, 100)


def without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _reason(exc: BaseException, connected: bool) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out" if connected else "timed out connecting"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not valid ({shown(exc.verify_message or exc, 100)})"
    if isinstance(exc, http.client.IncompleteRead | http.client.LineTooLong):
        return "the answer broke off or could not be decoded"
    if isinstance(exc, http.client.HTTPException) and not isinstance(
        exc, http.client.RemoteDisconnected
    ):
        return "the answer broke off or could not be decoded"
    return "connection failed"
