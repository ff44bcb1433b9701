"""The real Flyte client: flytekit runs `flyte-iap` as its proxyCommand against a
gRPC flyteadmin stand-in that, like IAP, lets a call through only with a valid
`proxy-authorization: Bearer <Google ID token>`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import version_pb2
from flyteidl.service import admin_pb2_grpc

from flyte_iap.emulator import Emulator

from ..helpers import AUD, USER, Cli, UserCli, flyte_iap_command, sa_args, user_args

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


@pytest.fixture
def admin(emulator: Emulator) -> Iterator[tuple[int, IapGate]]:
    gate = IapGate(emulator.certs_uri)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[gate])
    admin_pb2_grpc.add_AdminServiceServicer_to_server(Admin(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, gate
    server.stop(grace=None)


def flyte_config(tmp_path: Path, port: int, command: list[str]) -> Path:
    path = tmp_path / "config.yaml"
    # YAML is a superset of JSON: no YAML writer needed for the test.
    path.write_text(
        json.dumps(
            {
                "admin": {
                    "endpoint": f"dns:///127.0.0.1:{port}",
                    "insecure": True,
                    "proxyCommand": command,
                }
            }
        )
    )
    return path


def run_flytekit(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )


def test_flytekit_with_a_service_account_token(
    tmp_path: Path, cli: Cli, emulator: Emulator, admin: tuple[int, IapGate]
):
    port, gate = admin
    key = emulator.write_service_account_key(tmp_path / "key.json")
    command = [*flyte_iap_command(), *sa_args(key=key)]
    config = flyte_config(tmp_path, port, command)
    first = run_flytekit(config, cli.env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "v9.9.9-iap"
    # flytekit calls without the header, gets UNAUTHENTICATED, runs us, and retries.
    assert gate.seen[0] is None
    assert gate.seen[-1] is not None
    assert gate.seen[-1]["email"] == emulator.config.service_account_email
    # A new pyflyte process: the token comes from our cache, not from Google.
    again = run_flytekit(config, cli.env)
    assert again.returncode == 0, again.stderr
    assert emulator.count("token") == 1


def test_flytekit_with_a_cached_user_login(
    tmp_path: Path, emulator: Emulator, admin: tuple[int, IapGate]
):
    port, gate = admin
    home = tmp_path / "home"
    home.mkdir()
    user = UserCli(home, emulator)
    assert user("login", *user_args(emulator)).returncode == 0
    config = flyte_config(tmp_path, port, [*flyte_iap_command(), USER, *user_args(emulator)])
    result = run_flytekit(config, user.env)
    assert result.returncode == 0, result.stderr
    assert gate.seen[-1] is not None and gate.seen[-1]["email"] == emulator.config.user_email
    assert emulator.count("auth") == 1  # the login above; flytekit's call needed no browser


def test_flytekit_without_browser_or_terminal_fails_fast_with_our_message(
    tmp_path: Path, emulator: Emulator, admin: tuple[int, IapGate]
):
    port, _ = admin
    home = tmp_path / "home"
    home.mkdir()
    user = UserCli(home, emulator)
    config = flyte_config(tmp_path, port, [*flyte_iap_command(), USER, *user_args(emulator)])
    result = run_flytekit(config, {**user.env, "BROWSER": "/nonexistent/browser"})
    assert result.returncode != 0
    assert "flyte-iap login" in result.stderr  # flytekit passes our stderr on
    assert emulator.count("auth") == 0
