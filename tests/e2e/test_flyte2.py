"""The real, unmodified Flyte 2 SDK and CLI reach a backend behind the emulator's IAP gate
through `flyte-iap proxy`, each in its own process, as a user runs them.

The chain: SDK → proxy (http://localhost:PORT) → tap (notes the bearer on the wire) →
IAP gate → backend stand-in. Without the proxy the same SDK call is refused.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator

from ..cli import flyte_iap_command, isolated_env
from ..flyte2_backend import PROJECTS, Flyte2Backend, Tap
from ..flyte2_clients import FLYTE_CLI, QUICK_EXIT, WAIT, client_env, lines_of, sdk
from ..tokens import AUD, sa_args, verify

PROJECTS_SCRIPT = """
import json, sys, flyte, flyte.remote as remote
flyte.init(endpoint=sys.argv[1], insecure=True, project="demo", domain="development")
try:
    got = remote.Project.get("demo").pb2.id
    print(json.dumps({"get": got, "list": [p.pb2.id for p in remote.Project.listall()]}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "code": str(getattr(exc, "code", ""))}))
"""
UPLOAD_SCRIPT = """
import json, pathlib, sys, flyte, flyte.remote as remote
flyte.init(endpoint=sys.argv[1], insecure=True, project="demo", domain="development")
digest, native = remote.upload_file(pathlib.Path(sys.argv[2]))
print(json.dumps({"digest": digest, "native": native}))
"""
WATCH_SCRIPT = """
import sys, flyte, flyte.remote as remote
from flyteidl2.common import identifier_pb2 as ids
flyte.init(endpoint=sys.argv[1], insecure=True, project="demo", domain="development")
run = ids.RunIdentifier(project="demo", domain="development", name="r1")
for details in remote.ActionDetails.watch(ids.ActionIdentifier(run=run, name="a0")):
    print(details.phase.name, flush=True)
"""


@pytest.fixture
def backend() -> Iterator[Flyte2Backend]:
    with Flyte2Backend() as stand_in:
        yield stand_in


@pytest.fixture
def tap(emulator: Emulator, backend: Flyte2Backend) -> Iterator[Tap]:
    """The gate in front of the backend, and the tap in front of the gate."""
    wire = Tap(emulator.start_gate(backend.url))
    yield wire
    wire.close()


@pytest.fixture
def proxy(emulator: Emulator, tap: Tap, home: Path, tmp_path: Path) -> Iterator[str]:
    """`flyte-iap proxy` for a service account, upstream the tapped gate; its address."""
    key = emulator.write_service_account_key(tmp_path / "key.json")
    command = [*flyte_iap_command(), "proxy", "--upstream", tap.url, "--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [*command, *sa_args(key=key)],
        env=isolated_env(home, emulator.env()),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    err, deadline, url, seen = lines_of(proc.stderr), time.monotonic() + WAIT, "", []
    try:
        while not url:
            seen.append(line := err.get(timeout=max(deadline - time.monotonic(), 0.01)))
            assert line, f"the proxy ended before listening: {''.join(seen)[-2000:]}"
            _, found, rest = line.partition("listening on http://localhost:")
            url = f"http://localhost:{rest.split()[0]}" if found else ""
        yield url
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    assert code == 0, "the proxy did not exit 0 on SIGTERM"


def assert_all_through_proxy(emulator: Emulator, backend: Flyte2Backend, tap: Tap) -> None:
    """Every call the backend saw passed the gate with a token on the wire that google-auth
    verifies for the webapp audience; none reached the backend any other way."""
    log = emulator.gate_log
    assert log and [r.verdict for r in log] == ["allowed"] * len(log), log
    assert [r.path for r in log] == [c.path for c in backend.calls]
    email = emulator.config.service_account_email
    assert len(tap.tokens) == len(log)
    for token in tap.tokens:
        assert verify(emulator, token, email, audience=AUD)["aud"] == AUD
    for call in backend.calls:
        assert call.headers["x-goog-authenticated-user-email"] == "accounts.google.com:" + email
        assert "proxy-authorization" not in call.headers


def test_sdk_gets_and_lists_projects_through_the_proxy(
    proxy: str, emulator: Emulator, backend: Flyte2Backend, tap: Tap, home: Path
) -> None:
    assert sdk(home, PROJECTS_SCRIPT, proxy) == {"get": "demo", "list": list(PROJECTS)}
    paths = [c.path.rpartition("/")[2] for c in backend.calls]
    assert paths == ["GetProject", "ListProjects"]
    assert_all_through_proxy(emulator, backend, tap)


def test_sdk_straight_at_the_gate_is_refused(
    emulator: Emulator, backend: Flyte2Backend, tap: Tap, home: Path
) -> None:
    result = sdk(home, PROJECTS_SCRIPT, emulator.gate_url)
    assert result == {"error": "ConnectError", "code": "Code.UNAUTHENTICATED"}
    assert [(r.verdict, r.detail) for r in emulator.gate_log] == [("refused", "empty token")]
    assert backend.calls == []


def test_flyte_cli_gets_projects_through_the_proxy(
    proxy: str, emulator: Emulator, backend: Flyte2Backend, tap: Tap, home: Path
) -> None:
    config = home / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {proxy}\n  insecure: true\n")
    flyte = [sys.executable, "-c", FLYTE_CLI]  # the `flyte` console script, exiting quickly
    runs = [
        [*flyte, "--config", str(config), "get", "project", "demo"],
        [*flyte, "--endpoint", proxy, "--insecure", "get", "project"],
    ]
    for args in runs:
        done = subprocess.run(
            args, env=client_env(home), cwd=home, capture_output=True, text=True, timeout=WAIT
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "demo" in done.stdout
    assert "flytesnacks" in done.stdout
    paths = [c.path.rpartition("/")[2] for c in backend.calls]
    assert paths == ["GetProject", "ListProjects"]
    assert_all_through_proxy(emulator, backend, tap)


@pytest.mark.parametrize(("host", "org"), [("localhost", ""), ("127.0.0.1", "127")])
def test_upload_file_routes_through_the_proxy(
    proxy: str,
    emulator: Emulator,
    backend: Flyte2Backend,
    tap: Tap,
    home: Path,
    host: str,
    org: str,
) -> None:
    """SelectCluster answers the address the backend was reached at (the tapped gate,
    which needs a token); the proxy keeps the data-proxy call on itself. The SDK takes
    an org from a host of more than two labels: why the proxy advertises localhost."""
    source = home / "bundle.txt"
    source.write_bytes(b"code bundle\n" * 100)
    endpoint = proxy.replace("localhost", host)
    uploaded = sdk(home, UPLOAD_SCRIPT, endpoint, str(source))
    assert uploaded["native"] == "s3://bucket/demo/development/bundle.txt"
    assert backend.store.objects == {"/demo/development/bundle.txt": source.read_bytes()}
    paths = [c.path.rpartition("/")[2] for c in backend.calls]
    assert paths == ["SelectCluster", "CreateUploadLocation"]
    assert backend.selected == [tap.url]
    assert backend.upload_requests[0].org == org
    assert_all_through_proxy(emulator, backend, tap)
    assert uploaded["digest"] == hashlib.md5(source.read_bytes()).hexdigest()
    assert "proxy-authorization" not in backend.store.puts[0].headers


def test_watch_stream_flows_through_the_proxy(
    proxy: str, emulator: Emulator, backend: Flyte2Backend, tap: Tap, home: Path
) -> None:
    """The first message of a server stream reaches the SDK while the stream is open."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WATCH_SCRIPT + QUICK_EXIT, proxy],
        env=client_env(home),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out = lines_of(proc.stdout)
        assert out.get(timeout=WAIT).strip() == "RUNNING"
        assert backend.sent == ["ACTION_PHASE_RUNNING"]  # the end is still held back
        backend.release()
        assert out.get(timeout=WAIT).strip() == "SUCCEEDED"
        assert proc.wait(timeout=WAIT) == 0, proc.stderr.read()[-3000:]  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert backend.sent == ["ACTION_PHASE_RUNNING", "ACTION_PHASE_SUCCEEDED"]
    assert_all_through_proxy(emulator, backend, tap)
