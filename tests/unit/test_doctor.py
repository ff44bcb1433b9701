"""``doctor`` in process against the emulator's IAP gate and a flyteadmin stand-in: every
check passing, and each of the mistakes it is there to find (a wrong webapp id, no IAP
in front, a backend that is down, proxy commands that fail, hang or print too much, a
config that is not one). The token never appears in what the doctor prints."""

from __future__ import annotations

import os
import select
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flyte_iap.cli.doctor import MARKS
from flyte_iap.emulator import Emulator

from ..certs import private_ca
from ..cli import InProcessCli, Result, flyte_iap_command
from ..stub_server import Reply, StubServer
from ..tokens import AUD, SA

VERSION = {"controlPlaneVersion": {"Version": "v1.x", "Build": "b", "BuildTime": "t"}}
PY = sys.executable
NA = MARKS["na"]  # a dash: not applicable


@pytest.fixture
def flyteadmin() -> Iterator[StubServer]:
    """flyteadmin's REST side: GET /api/v1/version answers its version."""
    with StubServer(Reply.json(VERSION)) as stub:
        yield stub


@pytest.fixture
def key(emulator: Emulator, home: Path) -> Path:
    return emulator.write_service_account_key(home / "key.json")


def sa_command(key: Path, audience: str = AUD) -> list[str]:
    """The real token command, as `flyte-iap configure` would write it."""
    return [
        *flyte_iap_command(),
        SA,
        "--webapp_client_id",
        audience,
        "--service_account_key",
        str(key),
    ]


def endpoint_of(url: str) -> str:
    return "dns:///" + url.removeprefix("http://")


def write_config(home: Path, endpoint: str | None, command: list[str] | None, **admin: Any) -> Path:
    section: dict[str, Any] = {**admin}
    if endpoint is not None:
        section["endpoint"] = endpoint
    if command is not None:
        section["proxyCommand"] = command
    path = home / ".flyte" / "config.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"admin": section}))
    return path


def printing(home: Path, text: str) -> list[str]:
    """A proxy command that prints ``text`` (kept in a file, not in its arguments)."""
    path = home / "output.txt"
    path.write_text(text)
    return [PY, "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read())", str(path)]


def lines(result: Result) -> dict[str, str]:
    """Check name -> its line (the fix line, if any, appended)."""
    found: dict[str, str] = {}
    last = ""
    for line in result.stdout.splitlines():
        if line[:1] in MARKS.values() and line[1:2] == " ":
            last = line[2:18].strip()
            found[last] = line
        elif line.strip().startswith("fix:") and last:
            found[last] += "\n" + line
    return found


def marks(result: Result) -> dict[str, str]:
    return {name: line[0] for name, line in lines(result).items()}


def doctor(run_cli: InProcessCli, config: Path, **env: str) -> Result:
    result = run_cli("doctor", "--config", str(config), **env)
    assert "Traceback" not in result.stderr + result.stdout
    return result


def the_token(run_cli: InProcessCli, key: Path) -> str:
    """The token the proxy command printed (it is cached: the same one comes back)."""
    return run_cli(SA, "--webapp_client_id", AUD, "--service_account_key", str(key)).token


ALL = [
    "config",
    "proxy command",
    "token",
    "dns",
    "tls",
    "without a token",
    "with the token",
    "flyteadmin rest",
    "flyteadmin grpc",
]


def test_everything_passes_through_the_gate(
    run_cli: InProcessCli, emulator: Emulator, home: Path, key: Path, flyteadmin: StubServer
) -> None:
    gate = emulator.start_gate(flyteadmin.url)
    config = write_config(home, endpoint_of(gate), sa_command(key), insecure=True)
    result = doctor(run_cli, config)
    assert result.returncode == 0, result.stdout
    assert list(lines(result)) == ALL
    assert marks(result) == {**dict.fromkeys(ALL, "✓"), "tls": NA, "flyteadmin grpc": NA}
    found = lines(result)
    assert "ci-runner@" in found["token"] and "signature verified" in found["token"]
    assert "refused by IAP (401)" in found["without a token"]
    assert "v1.x" in found["flyteadmin rest"]
    assert "HTTP/1.1" in found["flyteadmin grpc"]
    assert result.stdout.rstrip().endswith("all checks passed")
    token = the_token(run_cli, key)
    assert token not in result.stdout + result.stderr
    # The gate saw one request without the token and one with it; flyteadmin saw the second.
    assert [r.verdict for r in emulator.gate_log] == ["refused", "allowed"]
    assert [(m, p) for m, p, *_ in flyteadmin.requests] == [("GET", "/api/v1/version")]


def test_the_endpoint_and_the_command_on_the_command_line(
    run_cli: InProcessCli, emulator: Emulator, key: Path, flyteadmin: StubServer
) -> None:
    gate = emulator.start_gate(flyteadmin.url)
    result = run_cli(
        "doctor",
        "--endpoint",
        endpoint_of(gate),
        "--insecure",
        "--",
        SA,
        "--webapp_client_id",
        AUD,
        "--service_account_key",
        str(key),
    )
    assert result.returncode == 0, result.stdout
    assert marks(result)["config"] == NA and "no file read" in lines(result)["config"]


def test_a_webapp_id_that_is_not_the_gates_audience(
    run_cli: InProcessCli, emulator: Emulator, home: Path, key: Path, flyteadmin: StubServer
) -> None:
    gate = emulator.start_gate(flyteadmin.url, audience="the-real-iap.apps.googleusercontent.com")
    config = write_config(home, endpoint_of(gate), sa_command(key), insecure=True)
    result = doctor(run_cli, config)
    assert result.returncode == 1
    found = lines(result)
    assert marks(result)["token"] == "✓"  # it is what the command asked for...
    refused = found["with the token"]  # ...but not what IAP expects, in IAP's own words:
    assert refused.startswith("✗") and "Invalid IAP credentials" in refused
    assert "the-real-iap.apps.googleusercontent.com" in refused
    assert "fix:" in refused and "--webapp_client_id" in refused
    assert marks(result)["flyteadmin rest"] == NA
    assert flyteadmin.requests == []


def test_a_gate_that_lets_everything_through_is_not_iap(
    run_cli: InProcessCli, emulator: Emulator, home: Path, key: Path, flyteadmin: StubServer
) -> None:
    gate = emulator.start_gate(flyteadmin.url, check=False)
    config = write_config(home, endpoint_of(gate), sa_command(key), insecure=True)
    result = doctor(run_cli, config)
    assert result.returncode == 1
    assert marks(result)["without a token"] == "✗"
    assert "answered 200" in lines(result)["without a token"]
    loud = [line for line in result.stdout.splitlines() if "NOT PROTECTED BY IAP" in line]
    assert len(loud) == 2 and loud[0] == loud[0].upper()  # after the check, and at the end
    assert result.stdout.rstrip().endswith("1 check failed")


def test_a_backend_that_is_down(
    run_cli: InProcessCli, emulator: Emulator, home: Path, key: Path
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    gate = emulator.start_gate(dead)
    config = write_config(home, endpoint_of(gate), sa_command(key), insecure=True)
    result = doctor(run_cli, config)
    assert result.returncode == 1
    got = marks(result)
    assert got["without a token"] == got["with the token"] == "✓"
    assert got["flyteadmin rest"] == "✗" and "502" in lines(result)["flyteadmin rest"]
    assert "is it running" in lines(result)["flyteadmin rest"]


def test_a_proxy_command_that_fails(
    run_cli: InProcessCli, emulator: Emulator, home: Path, flyteadmin: StubServer
) -> None:
    gate = emulator.start_gate(flyteadmin.url)
    config = write_config(
        home, endpoint_of(gate), sa_command(home / "no-such-key.json"), insecure=True
    )
    result = doctor(run_cli, config)
    assert result.returncode == 1
    line = lines(result)["proxy command"]
    assert line.startswith("✗") and "exited with 1" in line and "credentials file" in line
    assert marks(result)["token"] == NA
    assert marks(result)["with the token"] == NA


def exited(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` (not ours to wait for) has exited, waiting up to ``timeout``
    seconds (a hang guard) for it to: its pidfd turns readable when it does."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True  # gone already
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(pidfd)


@pytest.mark.timeout(30)  # ten times what it takes; unbounded, the command runs 120 s
@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on a pidfd (Linux)")
def test_a_proxy_command_that_hangs_is_stopped_with_what_it_started(
    run_cli: InProcessCli, home: Path, flyteadmin: StubServer
) -> None:
    pid_file = home / "child.pid"
    hang = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    config = write_config(home, "dns:///127.0.0.1:9", [PY, "-c", hang], insecure=True)
    result = doctor(run_cli, config, FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT="1.5")
    line = lines(result)["proxy command"]
    assert line.startswith("✗") and "did not finish within 1.5 s" in line
    assert "FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT" in line
    # Killed with its group: the child's exit is seen however soon init reaps it.
    assert exited(int(pid_file.read_text()), timeout=10), "the proxy command's child outlived it"


@pytest.mark.timeout(60)
def test_what_left_the_group_is_stopped_too(
    run_cli: InProcessCli, home: Path, flyteadmin: StubServer
) -> None:
    """A child in a session of its own (setsid), and a daemon that double-forked away
    from the command, are killed as well: the doctor leaves nothing the command started."""
    pids = home / "pids"
    hang = (
        "import os, subprocess, sys, time\n"
        "sleeper = [sys.executable, '-c', 'import time; time.sleep(120)']\n"
        "own = subprocess.Popen(sleeper, start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "        time.sleep(120)\n"
        "    os._exit(0)\n"
        f"open({str(pids)!r}, 'a').write(f'{{own.pid}}\\n')\n"
        "time.sleep(120)\n"
    )
    config = write_config(home, "dns:///127.0.0.1:9", [PY, "-c", hang], insecure=True)
    result = doctor(run_cli, config, FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT="5")
    assert "did not finish within 5 s" in lines(result)["proxy command"]
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2, "both the setsid child and the daemon had started"
    for pid in started:
        assert exited(pid, timeout=10), f"{pid}, started by the command, outlived it"


def test_a_bad_command_timeout_is_bad_input(run_cli: InProcessCli, home: Path) -> None:
    config = write_config(home, "dns:///127.0.0.1:9", [PY, "-c", "pass"])
    result = doctor(run_cli, config, FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT="soon")
    assert result.returncode == 2 and result.stdout == ""
    assert "FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT" in result.stderr


def test_a_proxy_command_that_prints_two_lines(
    run_cli: InProcessCli, emulator: Emulator, home: Path, flyteadmin: StubServer
) -> None:
    token = emulator.mint_id_token()
    gate = emulator.start_gate(flyteadmin.url)
    config = write_config(
        home, endpoint_of(gate), printing(home, f"{token}\n{token}\n"), insecure=True
    )
    result = doctor(run_cli, config)
    assert result.returncode == 1
    line = lines(result)["proxy command"]
    assert line.startswith("✗") and "printed 2 lines" in line
    assert token not in result.stdout + result.stderr
    assert token.split(".")[1] not in result.stdout


@pytest.mark.parametrize(
    ("output", "needle"),
    [("", "printed nothing"), ("hello world\n", "not a JWT"), ("a.b.c\n", "not a JWT")],
)
def test_a_proxy_command_that_prints_no_token(
    run_cli: InProcessCli, home: Path, output: str, needle: str
) -> None:
    config = write_config(home, "dns:///127.0.0.1:9", printing(home, output))
    result = doctor(run_cli, config)
    assert result.returncode == 1
    assert needle in lines(result)["proxy command"]


def test_the_classic_mistake_a_token_for_the_desktop_client(
    run_cli: InProcessCli, emulator: Emulator, home: Path, flyteadmin: StubServer
) -> None:
    desktop = emulator.config.desktop_client_id
    token = emulator.mint_id_token(aud=desktop, azp=desktop)
    gate = emulator.start_gate(flyteadmin.url)
    config = write_config(home, endpoint_of(gate), printing(home, token + "\n"), insecure=True)
    result = doctor(run_cli, config)
    assert result.returncode == 1
    line = lines(result)["token"]
    assert line.startswith("✗") and "classic mistake" in line and "--webapp_client_id" in line
    assert lines(result)["with the token"].startswith("✗")
    assert token not in result.stdout + result.stderr


def test_an_expired_token(
    run_cli: InProcessCli, emulator: Emulator, home: Path, flyteadmin: StubServer
) -> None:
    token = emulator.mint_id_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
    gate = emulator.start_gate(flyteadmin.url)
    config = write_config(home, endpoint_of(gate), printing(home, token + "\n"), insecure=True)
    result = doctor(run_cli, config)
    assert "expired" in lines(result)["token"] and marks(result)["token"] == "✗"
    assert "Expired JWT" in lines(result)["with the token"]
    assert "clock" in lines(result)["with the token"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("admin: [unclosed\n", "not valid YAML"),
        ("- a\n- b\n", "holds a list, not a mapping"),
        ("admin: 3\n", "admin is a number, not a mapping"),
        (yaml.safe_dump({"admin": {"proxyCommand": ["x"]}}), "no admin.endpoint"),
        (yaml.safe_dump({"admin": {"endpoint": "dns:///h"}}), "no admin.proxyCommand"),
        (
            yaml.safe_dump({"admin": {"endpoint": "dns:///h", "proxyCommand": "flyte-iap x"}}),
            "proxyCommand is a string",
        ),
        (
            yaml.safe_dump({"admin": {"endpoint": "dns:///h/x?y", "proxyCommand": ["x"]}}),
            "not dns:///HOST",
        ),
    ],
)
def test_a_config_that_is_not_usable(
    run_cli: InProcessCli, home: Path, text: str, needle: str
) -> None:
    config = home / "config.yaml"
    config.write_text(text)
    result = doctor(run_cli, config)
    assert result.returncode == 1
    assert marks(result) == {**dict.fromkeys(ALL, NA), "config": "✗"}
    assert needle in lines(result)["config"] and "fix:" in lines(result)["config"]


def test_no_config_at_all(run_cli: InProcessCli, home: Path) -> None:
    result = run_cli("doctor")
    assert result.returncode == 1
    line = lines(result)["config"]
    assert str(home / ".flyte" / "config.yaml") in line and "does not exist" in line
    assert "flyte-iap configure" in line


def test_flytectl_config_names_the_file(run_cli: InProcessCli, home: Path) -> None:
    other = home / "elsewhere.yaml"
    other.write_text("admin: [\n")
    result = run_cli("doctor", FLYTECTL_CONFIG=str(other))
    assert str(other) in lines(result)["config"] and "not valid YAML" in lines(result)["config"]


def test_a_host_that_does_not_resolve(
    run_cli: InProcessCli, emulator: Emulator, home: Path
) -> None:
    token = emulator.mint_id_token()
    config = write_config(home, "dns:///no-such-host.invalid", printing(home, token + "\n"))
    result = doctor(run_cli, config)
    assert marks(result)["dns"] == "✗" and "does not resolve" in lines(result)["dns"]
    assert marks(result)["without a token"] == NA


def test_insecure_to_a_remote_host_fails_the_tls_check() -> None:
    from flyte_iap.doctor.network import tls_check
    from flyte_iap.flyteconfig import parse_endpoint

    check = tls_check(parse_endpoint("dns:///flyte.example.com", insecure=True), None)
    assert check.status == "fail" and "unencrypted" in check.detail
    assert "insecure: false" in check.fix
    loopback = tls_check(parse_endpoint("dns:///127.0.0.1:8080", insecure=True), None)
    assert loopback.status == "na"


def test_bad_endpoint_on_the_command_line_is_bad_input(run_cli: InProcessCli) -> None:
    result = run_cli("doctor", "--endpoint", "dns:///h/path", "--", SA, "--webapp_client_id", AUD)
    assert result.returncode == 2 and result.stdout == ""
    assert "--endpoint" in result.stderr


# --- TLS with a private CA, and gRPC ----------------------------------------------------
class TlsIap:
    """An HTTPS stand-in for IAP on 127.0.0.1: 401 from "IAP" without a bearer, the
    version with one. Stops on exit of the ``with`` block."""

    def __init__(self, cert: Path, key: Path) -> None:
        import ssl
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("proxy-authorization", "").startswith("Bearer "):
                    status, body, iap = 200, json_bytes(VERSION), False
                else:
                    status, body, iap = 401, b"Invalid IAP credentials: empty token", True
                self.send_response(status)
                if iap:
                    self.send_header("x-goog-iap-generated-response", "true")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.endpoint = f"dns:///127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TlsIap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


def test_tls_with_a_private_ca(run_cli: InProcessCli, emulator: Emulator, home: Path) -> None:
    ca, cert, key = private_ca(home)
    command = printing(home, emulator.mint_id_token() + "\n")
    with TlsIap(cert, key) as iap:
        without_ca = doctor(run_cli, write_config(home, iap.endpoint, command))
        assert marks(without_ca)["tls"] == "✗"
        assert "caCertFilePath" in lines(without_ca)["tls"]
        with_ca = doctor(run_cli, write_config(home, iap.endpoint, command, caCertFilePath=str(ca)))
    found = lines(with_ca)
    assert found["tls"].startswith("✓") and "Test CA Inc" in found["tls"]
    assert found["without a token"].startswith("✓")
    assert found["flyteadmin rest"].startswith("✓") and "v1.x" in found["flyteadmin rest"]
    # An HTTP/1.1 server over TLS is no gRPC server: not excused, as it is not loopback HTTP.
    assert found["flyteadmin grpc"].startswith("✗") and "fix:" in found["flyteadmin grpc"]


def test_grpc_get_version_without_flyteidl() -> None:
    """A real gRPC server that refuses calls without the bearer answers GetVersion."""
    import grpc

    from flyte_iap.doctor.admin import grpc_check
    from flyte_iap.flyteconfig import parse_endpoint

    seen: list[str] = []

    def get_version(request: bytes, context: grpc.ServicerContext) -> bytes:
        bearer = dict(context.invocation_metadata()).get("proxy-authorization", "")
        seen.append(str(bearer))
        if not str(bearer).startswith("Bearer "):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no bearer")
        # GetVersionResponse{control_plane_version: Version{Build: "b", Version: "v1.x"}}
        return b"\n\x09\n\x01b\x12\x04v1.x"

    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(2))
    handler = grpc.unary_unary_rpc_method_handler(get_version)
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "flyteidl.service.AdminService", {"GetVersion": handler}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        endpoint = parse_endpoint(f"dns:///127.0.0.1:{port}", insecure=True)
        check = grpc_check(endpoint, "a.b.c", None, rest_passed=False)
    finally:
        server.stop(0)
    assert check.status == "ok" and "v1.x" in check.detail, check
    assert seen == ["Bearer a.b.c"]


# --- Flyte 2: the config's generation, and whom the backend sees -------------------------
def test_a_flyte2_config_is_read_as_one(home: Path) -> None:
    from flyte_iap.doctor.config import read_config

    command = ["flyte-iap", SA, "--webapp_client_id", AUD]
    config = write_config(home, "dns:///flyte.example.com", None, authType="ExternalCommand")
    config.write_text(config.read_text() + f"  command: {command}\n")
    check, target = read_config(str(config), endpoint=None, command=None, insecure=False)
    assert target is not None and target.generation == 2 and target.command == command
    assert "Flyte 2" in check.detail and "command flyte-iap" in check.detail
    # A proxyCommand makes it Flyte 1's, whatever authType says (flyteadmin's own auth).
    config.write_text(config.read_text() + f"  proxyCommand: {command}\n")
    _, target = read_config(str(config), endpoint=None, command=None, insecure=False)
    assert target is not None and target.generation == 1


def test_a_flyte2_config_over_plain_http_fails_the_config_check(home: Path) -> None:
    """insecure: true makes the flyte SDK send no token at all."""
    from flyte_iap.doctor.config import read_config

    config = write_config(
        home, "dns:///127.0.0.1:8443", None, authType="ExternalCommand", insecure=True
    )
    config.write_text(config.read_text() + "  command: [flyte-iap, x]\n")
    check, target = read_config(str(config), endpoint=None, command=None, insecure=False)
    assert target is None and check.status == "fail"
    assert "sends no token at all" in check.detail and "insecure: false" in check.fix


def connect_answer(status: int, body: Any) -> Any:
    from flyte_iap.transport import Response

    return Response(status, {"Content-Type": "application/json"}, json_bytes(body))


BACKEND_SEES = [
    (
        200,
        {"subject": "accounts.google.com:1", "email": "me@x.org"},
        "ok",
        "sees the caller as me@x.org",
    ),
    (200, {"subject": "accounts.google.com:2", "email": "other@x.org"}, "fail", "someone else"),
    (200, {"name": "no subject"}, "fail", "not the caller's identity"),
    (401, {"code": "unauthenticated", "message": "no identity"}, "fail", "sees no caller"),
    (503, {"code": "unavailable"}, "fail", "did not answer"),
    (404, "<html>not found</html>", "fail", "answered 404"),
]


@pytest.mark.parametrize(("status", "body", "outcome", "words"), BACKEND_SEES)
def test_whom_the_backend_sees(status: int, body: Any, outcome: str, words: str) -> None:
    from flyte_iap.doctor.connect import backend_check
    from flyte_iap.flyteconfig import parse_endpoint
    from flyte_iap.transport import HttpClient

    check = backend_check(
        connect_answer(status, body),
        {"email": "me@x.org"},
        endpoint=parse_endpoint("dns:///127.0.0.1:9", insecure=True),
        http=HttpClient(tries=1),
        token="header.payload.signature",
    )
    assert (check.status, check.name) == (outcome, "backend")
    assert words in check.detail + check.fix
    if status == 401:
        assert "X-Goog-IAP-JWT-Assertion" in check.fix


def test_a_backend_without_identity_service_is_asked_for_its_projects() -> None:
    from flyte_iap.doctor.connect import backend_check
    from flyte_iap.flyteconfig import parse_endpoint
    from flyte_iap.transport import HttpClient

    with StubServer(Reply.json({"projects": []})) as projects:
        check = backend_check(
            connect_answer(404, {"code": "unimplemented", "message": "x"}),
            {},
            endpoint=parse_endpoint(endpoint_of(projects.url), insecure=True),
            http=HttpClient(tries=1),
            token="header.payload.signature",
        )
        ((method, path, headers, body),) = projects.requests
    assert check.status == "ok" and "ProjectService answered" in check.detail
    assert (method, path, body) == ("POST", "/flyteidl2.project.ProjectService/ListProjects", b"{}")
    assert headers["authorization"] == "Bearer header.payload.signature"


def test_the_token_never_goes_where_the_tls_check_said_it_must_not(
    run_cli: InProcessCli, emulator: Emulator, home: Path, flyteadmin: StubServer, key: Path
) -> None:
    """insecure: true to a host that is not a loopback literal (here `127.1`, which reaches
    127.0.0.1 but is no address the loopback rule takes): the tls check fails, and no
    request with the token is made at all, over REST or gRPC."""
    port = flyteadmin.url.rpartition(":")[2]
    config = write_config(home, f"dns:///127.1:{port}", sa_command(key), insecure=True)
    result = doctor(run_cli, config)
    assert result.returncode == 1
    found = lines(result)
    assert found["tls"].startswith("✗") and "unencrypted" in found["tls"]
    for name in ("with the token", "flyteadmin rest", "flyteadmin grpc"):
        assert (
            found[name]
            == f"{NA} {name:<16} not checked: the token is not sent unencrypted (see tls)"
        )
    assert [path for _, path, _, _ in flyteadmin.requests] == ["/api/v1/version"]
    assert all(
        "proxy-authorization" not in {h.lower() for h in headers}
        for _, _, headers, _ in flyteadmin.requests
    )
