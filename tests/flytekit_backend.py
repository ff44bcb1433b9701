"""flytekit's side of Flyte 1 on this machine: a gRPC flyteadmin stand-in that, like IAP,
lets a call through only with a valid ``proxy-authorization: Bearer <Google ID token>``,
and flytekit's ``FlyteRemote`` run against a config in a process of its own."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import version_pb2
from flyteidl.service import admin_pb2_grpc

from .tokens import AUD

PROBE = (
    "import sys\n"
    "from flytekit.configuration import Config\n"
    "from flytekit.remote import FlyteRemote\n"
    "print(FlyteRemote(Config.auto(sys.argv[1])).client.get_control_plane_version())\n"
)


class IapGate(grpc.ServerInterceptor):
    """Stands where IAP stands: checks the ID token's signature and audience."""

    def __init__(self, certs_url: str) -> None:
        self.certs_url = certs_url
        self.seen: list[dict[str, Any] | None] = []
        self.lock = threading.Lock()

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        import google.auth.transport.requests
        from google.oauth2 import id_token

        header = dict(details.invocation_metadata).get("proxy-authorization", "")
        claims = None
        if header.startswith("Bearer "):
            try:
                claims = id_token.verify_token(
                    header[len("Bearer ") :],
                    google.auth.transport.requests.Request(),
                    audience=AUD,
                    certs_url=self.certs_url,
                )
            except ValueError:
                claims = None
        with self.lock:
            self.seen.append(claims)
        if claims is not None:
            return continuation(details)

        def deny(request: Any, context: Any) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "IAP: missing or invalid token")

        return grpc.unary_unary_rpc_method_handler(deny)


class Admin(admin_pb2_grpc.AdminServiceServicer):
    def GetVersion(self, request: Any, context: Any) -> Any:
        return version_pb2.GetVersionResponse(
            control_plane_version=version_pb2.Version(Version="v9.9.9-iap")
        )


@contextlib.contextmanager
def serve_admin(certs_url: str) -> Iterator[tuple[int, IapGate]]:
    """flyteadmin behind the gate, on 127.0.0.1: its port, and the gate (for what it saw)."""
    gate = IapGate(certs_url)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[gate])
    admin_pb2_grpc.add_AdminServiceServicer_to_server(Admin(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, gate
    finally:
        server.stop(grace=None)


def run_flytekit(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter asking flyteadmin for its version through flytekit and ``config``."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
