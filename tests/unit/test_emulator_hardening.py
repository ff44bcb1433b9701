"""Issue 8, items 15 and 16: the emulator on a shared machine and next to a browser.

15: ``flyte-iap emulator --state-dir DIR`` writes private keys and refresh tokens, so
DIR must be the user's own private directory, and no symlink planted in it is followed.
16: the admin endpoints (``/_emulator/...``) answer the emulator's own clients only, not a
web page (cross-site POST, DNS rebinding), and a fault's delay is bounded and checked.
All against the real emulator server over HTTP, and the command line in-process.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from flyte_iap.emulator import MAX_FAULT_DELAY, Emulator, EmulatorConfig, run_emulator
from flyte_iap.emulator.server import MAX_REQUEST_BODY, EmulatorHTTPServer

from ..cli import InProcessCli, assert_clean_failure
from ..tokens import AUD

NOBODY = 65534  # another user's uid, for files chown-ed away from us
# Every file `flyte-iap emulator` writes into its state directory.
WRITTEN = (
    "service-account.json",
    "adc-user.json",
    "external-account.json",
    "external-account.subject-token",
)
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another uid needs root"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def serve_briefly(run_cli: InProcessCli, state_dir: Path) -> Any:
    """``flyte-iap emulator --state-dir STATE_DIR``, stopping at once."""
    return run_cli("emulator", "--state-dir", str(state_dir), "--exit-after", "0")


# --- 15: the state directory -----------------------------------------------------------


@as_root
def test_state_dir_of_another_user_is_refused(run_cli: InProcessCli, tmp_path: Path) -> None:
    shared = tmp_path / "emu"  # as another user would leave /tmp/emu for us
    shared.mkdir(mode=0o755)
    os.chown(shared, NOBODY, NOBODY)
    result = serve_briefly(run_cli, shared)
    assert_clean_failure(result, "--state-dir", str(shared), f"owned by uid {NOBODY}")
    assert result.returncode == 2
    assert os.listdir(shared) == []
    assert os.stat(shared).st_uid == NOBODY and mode(shared) == 0o755


@as_root
def test_symlink_of_another_user_as_state_dir_is_refused(
    run_cli: InProcessCli, tmp_path: Path
) -> None:
    ours = tmp_path / "ours"
    ours.mkdir(mode=0o700)
    planted = tmp_path / "emu"
    planted.symlink_to(ours)
    os.lchown(planted, NOBODY, NOBODY)
    result = serve_briefly(run_cli, planted)
    assert_clean_failure(result, "--state-dir", "symbolic link", f"uid {NOBODY}")
    assert os.listdir(ours) == []


@pytest.mark.parametrize("bits", [0o777, 0o1777, 0o775, 0o757], ids=lambda bits: f"{bits:04o}")
def test_state_dir_writable_by_others_is_refused_and_left_alone(
    run_cli: InProcessCli, tmp_path: Path, bits: int
) -> None:
    shared = tmp_path / "emu"
    shared.mkdir()
    os.chmod(shared, bits)
    result = serve_briefly(run_cli, shared)
    assert_clean_failure(result, "--state-dir", "writable by group or others", f"{bits:04o}")
    assert os.listdir(shared) == []
    assert mode(shared) == bits  # not chmod-ed: refusing is the user's cue, not ours to fix


def test_new_state_dir_is_private(run_cli: InProcessCli, tmp_path: Path) -> None:
    state_dir = tmp_path / "new" / "emu"
    old_umask = os.umask(0o022)  # the usual umask, under which mkdir gives 0755
    try:
        result = serve_briefly(run_cli, state_dir)
    finally:
        os.umask(old_umask)
    assert result.returncode == 0, result.stderr
    assert mode(state_dir) == 0o700
    for name in WRITTEN:
        assert mode(state_dir / name) == 0o600


def test_symlinks_planted_in_the_state_dir_are_replaced_not_followed(tmp_path: Path) -> None:
    state_dir = tmp_path / "emu"
    state_dir.mkdir(mode=0o700)
    victims = tmp_path / "victim"
    victims.mkdir()
    for name in WRITTEN:
        (victims / name).write_text("alias ls='ls --color'\n")  # a ~/.bashrc of sorts
        (state_dir / name).symlink_to(victims / name)
    (state_dir / "dangling.json").symlink_to(victims / "created-by-us")
    out, err = io.StringIO(), io.StringIO()
    assert run_emulator(0, state_dir, True, 0, out, err) == 0
    for name in WRITTEN:
        assert (victims / name).read_text() == "alias ls='ls --color'\n", name
        written = state_dir / name
        assert not written.is_symlink() and written.is_file(), name
        assert mode(written) == 0o600, name
    key = json.loads((state_dir / "service-account.json").read_text())
    assert key["type"] == "service_account"
    assert sorted(os.listdir(victims)) == sorted(WRITTEN)  # nothing new, no temp file left
    assert sorted(os.listdir(state_dir)) == sorted([*WRITTEN, "dangling.json"])


def test_write_helpers_do_not_follow_a_symlink(emu: Emulator, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "key.json"
    link.symlink_to(victim)
    emu.write_service_account_key(link)
    assert victim.read_text() == "precious\n"
    assert json.loads(link.read_text())["type"] == "service_account"
    assert not link.is_symlink()


def test_state_dir_that_is_a_file_is_a_usage_error(run_cli: InProcessCli, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "emu"
    not_a_dir.write_text("")
    assert_clean_failure(serve_briefly(run_cli, not_a_dir), "--state-dir", str(not_a_dir))


def test_unwritable_sample_file_is_a_usage_error(run_cli: InProcessCli, tmp_path: Path) -> None:
    state_dir = tmp_path / "emu"
    state_dir.mkdir(mode=0o700)
    (state_dir / "adc-user.json").mkdir()  # in the way: cannot be replaced by a file
    result = serve_briefly(run_cli, state_dir)
    assert_clean_failure(result, "--state-dir", "cannot write the sample files")
    assert not [name for name in os.listdir(state_dir) if name.endswith(".tmp")]


# --- 16: the admin endpoints ------------------------------------------------------------


def admin(emu: Emulator, operation: str, **kwargs: Any) -> requests.Response:
    return requests.post(f"{emu.url}/_emulator/{operation}", timeout=5, **kwargs)


FAULT = {"endpoint": "certs", "status": 503}


def certs_status(emu: Emulator) -> int:
    """The certs endpoint's answer: 503 when a FAULT got queued, else 200."""
    return requests.get(emu.certs_uri, timeout=5).status_code


def test_own_clients_may_use_the_admin_endpoints(emu: Emulator) -> None:
    port = emu.url.rsplit(":", 1)[1]
    own = [
        {},  # requests, curl, the tests: no Origin, no fetch metadata
        {"Origin": emu.url, "Sec-Fetch-Site": "same-origin"},  # a page the emulator served
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
        {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"},
    ]
    for headers in own:
        assert admin(emu, "fail", json=FAULT, headers=headers).status_code == 200, headers
        assert certs_status(emu) == 503
    stats = requests.get(f"{emu.url}/_emulator/stats", timeout=5)
    assert stats.status_code == 200 and stats.json()["counts"]["certs"] == len(own)


def _foreign(emu: Emulator) -> list[dict[str, str]]:
    port = int(emu.url.rsplit(":", 1)[1])
    return [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, a file:// page
        {"Origin": f"http://127.0.0.1:{port + 1}"},  # another local web server: another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Host": f"evil.example:{port}"},  # DNS rebinding: evil.example now resolves here
        {"Host": f"127.0.0.1.nip.io:{port}"},
        {"Host": f"127.0.0.1:{port + 1}"},
    ]


def test_cross_site_and_rebound_admin_requests_are_refused(emu: Emulator) -> None:
    for headers in _foreign(emu):
        refused = admin(emu, "fail", json=FAULT, headers=headers)
        assert refused.status_code == 403, headers
        assert next(iter(headers)) in refused.json()["error"]["message"]  # says which header
        assert certs_status(emu) == 200, headers  # no fault was queued
    rebound = requests.get(
        f"{emu.url}/_emulator/stats", headers={"Host": "evil.example"}, timeout=5
    )
    assert rebound.status_code == 403


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=json",  # safelisted for a no-cors fetch, and contains "json"
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ],
)
def test_bodies_a_form_can_send_do_not_inject_faults(emu: Emulator, content_type: str) -> None:
    refused = admin(emu, "fail", data=json.dumps(FAULT), headers={"Content-Type": content_type})
    assert refused.status_code == 415
    assert "application/json" in refused.json()["error"]["message"]
    assert certs_status(emu) == 200


def test_form_posts_neither_revoke_keys_nor_mint_refresh_tokens(
    emu: Emulator, tmp_path: Path
) -> None:
    key = emu.write_service_account_key(tmp_path / "key.json")
    kid = json.loads(key.read_text())["private_key_id"]
    revoked = admin(emu, "revoke-key", data={"key_id": kid})  # an auto-submitted <form>
    assert revoked.status_code == 415
    creds = service_account.IDTokenCredentials.from_service_account_file(
        str(key), target_audience=AUD
    )
    creds.refresh(Request())  # the key still works
    minted = admin(emu, "refresh-token", data={"email": "mallory@example.com"})
    assert minted.status_code == 415 and "refresh_token" not in minted.json()
    assert admin(emu, "refresh-token", json={}).json()["refresh_token"]


@pytest.mark.parametrize(
    "delay",
    ["1e9", "-1", "-0.5", "NaN", "Infinity", "-Infinity", "1e400", "true", '"5"', "null"],
)
def test_bad_fault_delays_get_a_400_with_a_reason(
    emu: Emulator, delay: str, capfd: pytest.CaptureFixture[str]
) -> None:
    body = f'{{"endpoint": "certs", "status": 503, "delay": {delay}}}'
    refused = admin(emu, "fail", data=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert message == f"delay must be a number of seconds from 0 to {MAX_FAULT_DELAY:g}"
    # Nothing queued: a queued fault answers 503, crashes, or holds the answer past 5 s.
    assert certs_status(emu) == 200
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ({"status": 99999}, "status"),
        ({"status": True}, "status"),
        ({"status": "503"}, "status"),
        ({"count": 0}, "count"),
        ({"count": 1.5}, "count"),
        ({"body": ["not", "an", "object"]}, "body"),
        ({"endpoint": "nope"}, "endpoint"),
    ],
)
def test_bad_fault_parameters_get_a_400(emu: Emulator, fault: dict[str, Any], needle: str) -> None:
    refused = admin(emu, "fail", json={**FAULT, **fault})
    assert refused.status_code == 400
    assert needle in refused.json()["error"]["message"]
    assert certs_status(emu) == 200


def test_delay_at_the_bound_is_accepted(emu: Emulator) -> None:
    accepted = admin(emu, "fail", json={**FAULT, "endpoint": "sts", "delay": MAX_FAULT_DELAY})
    assert accepted.status_code == 200
    assert certs_status(emu) == 200


@pytest.mark.parametrize("delay", [1e9, -1.0, float("nan"), float("inf")])
def test_fail_next_refuses_unbounded_delays(emu: Emulator, delay: float) -> None:
    with pytest.raises(ValueError, match="delay must be"):
        emu.fail_next("certs", 503, delay=delay)
    assert certs_status(emu) == 200


# --- every read bounded ------------------------------------------------------------------


def test_a_huge_announced_body_gets_a_413_without_being_read(emu: Emulator) -> None:
    """A Content-Length of 10 GB with no body behind it: answered at once, not awaited
    (the body never comes, so a server that read it would answer nothing: the 10 s socket
    timeout is the hang guard)."""
    host, port = emu.url.removeprefix("http://").split(":")
    head = (
        f"POST /token HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000000\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode() + b"grant_type=")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 413") or answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert str(MAX_REQUEST_BODY).encode() in answer
    assert emu.count("token") == 0
    at_the_bound = requests.post(emu.token_uri, data=b"x" * MAX_REQUEST_BODY, timeout=10)
    assert at_the_bound.status_code == 400  # read and judged: not a grant


def test_a_connection_that_sends_nothing_is_closed() -> None:
    server = EmulatorHTTPServer(0)
    server.idle_timeout = 0.3
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        # The hang guard: without its 0.3 s idle timeout the server would wait 120 s.
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as conn:
            assert conn.recv(1) == b""  # the server hung up
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_consent_decision_posted_from_another_site_is_refused(tmp_path: Path) -> None:
    with Emulator(EmulatorConfig()) as emu:
        auth = requests.get(
            emu.auth_uri,
            params={
                "client_id": emu.config.desktop_client_id,
                "redirect_uri": "http://127.0.0.1:9/",
                "response_type": "code",
                "scope": "openid email",
                "state": "s1",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
            timeout=10,
        )
        assert auth.status_code == 200
        request_id = auth.text.split('name="request_id" value="')[1].split('"')[0]
        form = {"request_id": request_id, "decision": "allow"}
        forged = requests.post(
            emu.auth_uri + "/decision",
            data=form,
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
            timeout=10,
        )
        assert forged.status_code == 400
        assert "another site" in forged.text
        assert "Location" not in forged.headers
        own = requests.post(
            emu.auth_uri + "/decision",
            data=form,
            headers={"Origin": emu.url},
            allow_redirects=False,
            timeout=10,
        )
        assert own.status_code == 302
        assert own.headers["Location"].startswith("http://127.0.0.1:9/?code=")
