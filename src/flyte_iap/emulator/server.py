"""The threaded HTTP server: parses requests, counts them, injects faults, dispatches."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flyte_iap.emulator import admin, routes
from flyte_iap.emulator.records import Fault
from flyte_iap.emulator.wire import (
    Context,
    Request,
    Response,
    api_error,
    api_error_body,
    json_response,
    oauth_fault_body,
    text_response,
)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A loopback-only server whose handler threads never outlive the process."""

    daemon_threads = True
    #: How long a connection may wait between reads: a client that connects and sends
    #: nothing (or drips) holds a thread this long at most. An injected delay sleeps on the
    #: server's side and is not cut short by it.
    idle_timeout = 120.0

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        # Set by the owner once the port is known: the URLs in it name the port.
        self.ctx: Context | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request is normal (timeouts, injected drops).
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


def _parse_body(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, Any]]:
    """(form, json) from a request body; a body that does not parse is treated as empty."""
    if not raw:
        return {}, {}
    if "json" in content_type:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            return {}, {}
        return {}, data if isinstance(data, dict) else {}
    text = raw.decode("utf-8", "replace")
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True)), {}


def _fault_response(endpoint: str, fault: Fault) -> Response:
    if fault.body is not None:
        return json_response(fault.status, fault.body)
    if endpoint in routes.OAUTH_ENDPOINTS:
        return json_response(fault.status, oauth_fault_body(fault.status))
    if endpoint in routes.PAGE_ENDPOINTS or endpoint.startswith("metadata"):
        return text_response(fault.status, f"Injected failure: HTTP {fault.status}\n")
    return json_response(fault.status, api_error_body(fault.status, "Injected failure."))


#: The largest request body read; Google's endpoints take a few KiB (a form, a JSON object).
MAX_REQUEST_BODY = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    server_version = "GoogleEmulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log; ``requests_log`` records what matters."""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def handle(self) -> None:
        # The client went away (a timeout, an injected drop): there is nobody to answer.
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_request(self) -> Request | Response | None:
        """The parsed request; a 413 for a body over MAX_REQUEST_BODY (left unread); None
        when the client hung up before sending its body."""
        parts = urllib.parse.urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_REQUEST_BODY:
            return api_error(413, f"Request bodies are limited to {MAX_REQUEST_BODY} bytes.")
        raw = self.rfile.read(length) if length > 0 else b""
        if len(raw) < length:
            return None
        form, body = _parse_body(self.headers.get("Content-Type") or "", raw)
        return Request(
            method=self.command,
            path=urllib.parse.unquote(parts.path),
            query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            form=form,
            json=body,
        )

    def _dispatch(self) -> None:
        ctx = self.server.ctx
        assert ctx is not None, "the server is started with a context"
        req = self._read_request()
        if req is None:
            self.close_connection = True
            return
        if isinstance(req, Response):  # refused unread: the rest of the body is not HTTP
            self.close_connection = True
            self._send(req)
            return
        response = self._answer(ctx, req)
        if response.status == 0:
            self._drop_connection()
        else:
            self._send(response)

    def _answer(self, ctx: Context, req: Request) -> Response:
        if req.path.startswith("/_emulator/"):
            return admin.handle(ctx, req)
        found = routes.find(req.method, req.path)
        if found is None:
            if routes.path_exists(req.path):
                return api_error(405, f"Method {req.method} is not allowed for {req.path}.")
            return api_error(404, f"The requested URL {req.path} was not found on this server.")
        route, match = found
        ctx.state.record(route.name, req.loggable_params())
        fault = ctx.state.take_fault(route.name)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status != 200:  # 200: only slow the request down, then answer it
                return Response(0) if fault.status == 0 else _fault_response(route.name, fault)
        try:
            return route.handler(ctx, req, match)
        except Exception:
            traceback.print_exc()
            return api_error(500, f"Emulator error while serving {route.name}.")

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def _drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
