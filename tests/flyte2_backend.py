"""A Flyte 2 backend stand-in on 127.0.0.1, over HTTP/1.1: the real `connectrpc` ASGI
applications of flyteidl2 under uvicorn, and a signed-URL store beside it.

What the SDK reaches: ProjectService (GetProject, ListProjects), ClusterService
(SelectCluster, answering the address it was reached at, as the real backend does),
DataProxyService (CreateUploadLocation, a signed URL into :class:`Store`),
RunService (WatchActionDetails, a stream whose last message waits for :meth:`release`)
and IdentityService (UserInfo: the caller, read from the forwarded headers as the real
backend's runs service reads them, see :func:`identity_of`).
Every call is recorded with its headers and the identity they carry, so a test can tell
what came through the gate and on whose behalf.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import uvicorn
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.auth import identity_pb2
from flyteidl2.auth.identity_connect import IdentityService, IdentityServiceASGIApplication
from flyteidl2.cluster import payload_pb2
from flyteidl2.cluster.service_connect import ClusterService, ClusterServiceASGIApplication
from flyteidl2.common import phase_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2 as dp_pb2
from flyteidl2.dataproxy.dataproxy_service_connect import (
    DataProxyService,
    DataProxyServiceASGIApplication,
)
from flyteidl2.project import project_service_pb2 as project_pb2
from flyteidl2.project.project_service_connect import (
    ProjectService,
    ProjectServiceASGIApplication,
)
from flyteidl2.workflow import run_definition_pb2, run_service_pb2
from flyteidl2.workflow.run_service_connect import RunService, RunServiceASGIApplication

PROJECTS = ("demo", "flytesnacks")
BUCKET = "s3://bucket"
_STREAM_WAIT = 30.0  # the longest a watch stream holds back its last message


@dataclass(frozen=True)
class Identity:
    """Who a request speaks for, as the backend resolves it: the subject and the email."""

    subject: str
    email: str = ""


@dataclass(frozen=True)
class IdentityHeaders:
    """Where the backend reads a caller's identity (its ``identityHeaders`` settings, each
    '' to leave it out): a header carrying a JWT of claims, then a header carrying the
    subject (and one the email); last, the ``Authorization: Bearer`` token's claims. The
    defaults are the real backend's own (AWS ALB's headers)."""

    claims_jwt_header: str = "x-amzn-oidc-data"
    subject_header: str = "x-amzn-oidc-identity"
    email_header: str = ""


#: Flyte 2 behind Identity-Aware Proxy: the claims are IAP's signed assertion.
IAP_IDENTITY_HEADERS = IdentityHeaders(
    claims_jwt_header="x-goog-iap-jwt-assertion", subject_header=""
)


def identity_of(headers: dict[str, str], where: IdentityHeaders) -> Identity | None:
    """The caller's identity in ``headers`` (names lower-cased), None when there is none,
    in the order the runs service looks (flyteorg/flyte ``runs/service/identity.go``). Like
    the backend, it decodes a JWT's payload without checking its signature: the proxy in
    front has checked it, and that is what tests of the gate must show."""
    if where.claims_jwt_header:
        found = _jwt_identity(headers.get(where.claims_jwt_header.lower(), ""))
        if found is not None:
            return found
    if where.subject_header:
        subject = headers.get(where.subject_header.lower(), "").strip()
        if subject:
            email = headers.get(where.email_header.lower(), "") if where.email_header else ""
            return Identity(subject, email.strip())
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return _jwt_identity(token.strip())
    return None


def _jwt_identity(token: str) -> Identity | None:
    """``sub`` and ``email`` of a JWT's payload (padded or not); None without a subject."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        return None
    email = claims.get("email")
    return Identity(claims["sub"], email if isinstance(email, str) else "")


@dataclass(frozen=True)
class Call:
    """One request the backend saw: method, path, headers (names lower-cased) and the
    identity they carry (None: anonymous)."""

    method: str
    path: str
    headers: dict[str, str]
    identity: Identity | None = None


class Store:
    """A signed-URL object store: keeps the body of each PUT by path; stops by itself."""

    def __init__(self, lifetime: float = 120.0) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts: list[Call] = []
        store = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                size = min(int(self.headers.get("content-length") or 0), 16 * 1024 * 1024)
                store.objects[self.path] = self.rfile.read(size)
                headers = {k.lower(): v for k, v in self.headers.items()}
                store.puts.append(Call("PUT", self.path, headers))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True
        self._timer.start()

    def close(self) -> None:
        self._timer.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()


class Tap:
    """A byte-for-byte TCP relay in front of ``target`` that notes every
    ``proxy-authorization`` bearer on the wire: the tokens exactly as IAP receives them
    (the gate checks them but keeps only their claims). Stops by itself."""

    _BEARER = re.compile(rb"\r\nproxy-authorization:[ \t]*bearer[ \t]+([!-~]+)\r\n", re.I)
    _MOST = 8 * 1024 * 1024  # bytes of one connection scanned; the rest is only relayed

    def __init__(self, target: str, lifetime: float = 120.0) -> None:
        host, _, port = target.removeprefix("http://").rpartition(":")
        self._target = (host, int(port))
        self.tokens: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._until = time.monotonic() + lifetime
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set() and time.monotonic() < self._until:
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        self._listener.close()

    def _pump(self, src: socket.socket, dst: socket.socket, scan: bool) -> None:
        seen, start = bytearray(b"\r\n"), 0
        src.settimeout(max(self._until - time.monotonic(), 0.1))
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if scan and len(seen) < self._MOST:
                    seen += data
                    for match in self._BEARER.finditer(seen, start):
                        self.tokens.append(match.group(1).decode("ascii"))
                        start = match.end() - 2
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._closed.set()


class _Part:
    """A service implementation; ``backend`` holds what the parts share. The methods not
    written here are the generated ones, which answer UNIMPLEMENTED."""

    def __init__(self, backend: Flyte2Backend) -> None:
        self.backend = backend


class _Projects(_Part, ProjectService):
    async def get_project(self, request: Any, ctx: RequestContext) -> Any:
        project = project_pb2.Project(id=request.id, name=request.id.title())
        return project_pb2.GetProjectResponse(project=project)

    async def list_projects(self, request: Any, ctx: RequestContext) -> Any:
        found = [project_pb2.Project(id=name, name=name.title()) for name in PROJECTS]
        return project_pb2.ListProjectsResponse(projects=project_pb2.Projects(projects=found))


class _Clusters(_Part, ClusterService):
    async def select_cluster(self, request: Any, ctx: RequestContext) -> Any:
        """The address this call was reached at, as the real backend answers."""
        headers = ctx.request_headers()
        proto = headers.get("x-forwarded-proto") or "http"
        host = headers.get("x-forwarded-host") or headers.get("host") or ""
        endpoint = f"{proto}://{host}"
        self.backend.selected.append(endpoint)
        return payload_pb2.SelectClusterResponse(cluster_endpoint=endpoint, cluster="c1")


class _DataProxy(_Part, DataProxyService):
    async def create_upload_location(self, request: Any, ctx: RequestContext) -> Any:
        self.backend.upload_requests.append(request)
        path = f"/{request.project}/{request.domain}/{request.filename}"
        return dp_pb2.CreateUploadLocationResponse(
            signed_url=self.backend.store.url + path, native_url=BUCKET + path
        )


class _Runs(_Part, RunService):
    async def watch_action_details(
        self, request: Any, ctx: RequestContext
    ) -> AsyncIterator[run_service_pb2.WatchActionDetailsResponse]:
        """RUNNING at once; SUCCEEDED (the end) only once the backend is released."""
        backend = self.backend
        for phase in (phase_pb2.ACTION_PHASE_RUNNING, phase_pb2.ACTION_PHASE_SUCCEEDED):
            if phase == phase_pb2.ACTION_PHASE_SUCCEEDED:
                await asyncio.to_thread(backend.released.wait, _STREAM_WAIT)
            details = run_definition_pb2.ActionDetails(
                id=request.action_id, status=run_definition_pb2.ActionStatus(phase=phase)
            )
            # noted before the yield: the generator resumes only when the next message is
            # asked for, which can be after the client has already read this one
            backend.sent.append(phase_pb2.ActionPhase.Name(phase))
            yield run_service_pb2.WatchActionDetailsResponse(details=details)


class _Identity(_Part, IdentityService):
    async def user_info(self, request: Any, ctx: RequestContext) -> Any:
        """The caller, or UNAUTHENTICATED without one, as the runs service answers."""
        headers = {name.lower(): value for name, value in ctx.request_headers().items()}
        found = identity_of(headers, self.backend.identity_headers)
        if found is None:
            raise ConnectError(
                Code.UNAUTHENTICATED,
                "no authenticated identity on request (missing or untrusted identity headers)",
            )
        return identity_pb2.UserInfoResponse(subject=found.subject, email=found.email)


class Flyte2Backend:
    """The backend on a 127.0.0.1 port (``url``), serving until closed or ``lifetime``;
    it reads callers' identities from ``identity_headers``."""

    def __init__(
        self, lifetime: float = 120.0, *, identity_headers: IdentityHeaders = IdentityHeaders()
    ) -> None:
        self.identity_headers = identity_headers
        self.store = Store(lifetime)
        self.calls: list[Call] = []
        self.selected: list[str] = []  # each cluster_endpoint SelectCluster answered
        self.upload_requests: list[Any] = []
        self.sent: list[str] = []  # the phases a watch stream has handed over to send, in order
        self.released = threading.Event()
        self._apps: dict[str, Callable[..., Any]] = {}
        for app in (
            ProjectServiceASGIApplication(_Projects(self)),
            ClusterServiceASGIApplication(_Clusters(self)),
            DataProxyServiceASGIApplication(_DataProxy(self)),
            RunServiceASGIApplication(_Runs(self)),
            IdentityServiceASGIApplication(_Identity(self)),
        ):
            self._apps[app.path] = app
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(
            self._route,
            interface="asgi3",
            http="h11",
            lifespan="off",
            proxy_headers=False,
            log_level="warning",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True

    async def _route(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Record the call, then hand it to the service its path names (404 otherwise)."""
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        identity = identity_of(headers, self.identity_headers)
        self.calls.append(Call(scope["method"], scope["path"], headers, identity))
        app = self._apps.get("/" + scope["path"].strip("/").partition("/")[0])
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    def release(self) -> None:
        """Let every watch stream send its last message and end."""
        self.released.set()

    def __enter__(self) -> Flyte2Backend:
        self._thread.start()
        self._timer.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Flyte 2 backend stand-in did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._timer.cancel()
        self.released.set()
        self._server.should_exit = True
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        self._sock.close()
        self.store.close()
