"""The login's edges: PKCE, the loopback redirect server, the terminal and the browser.

Real sockets, real ptys, real subprocesses for ``webbrowser``, and test browsers (one on
``requests``, one headless chromium) that log in on the emulator's consent page.
"""

from __future__ import annotations

import base64
import os
import re
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flyte_iap.emulator import Emulator
from flyte_iap.errors import LoginError, UsageError
from flyte_iap.login.loopback import LoopbackServer
from flyte_iap.login.pkce import challenge_s256, new_verifier, random_token
from flyte_iap.login.terminal import Terminal

from .browsers import browser_env, chromium_missing, read_log

STATE = "the-state-of-this-login"
DENIED = (
    "the login was denied in the browser (access_denied); run the command again and choose Allow"
)
SUCCESS = "Login succeeded. You can close this tab and return to the terminal."


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(state=STATE) as srv:
        yield srv


def callback(srv: LoopbackServer, **params: str) -> requests.Response:
    return requests.get(srv.redirect_uri, params=params, timeout=10)


def port_of(srv: LoopbackServer) -> int:
    port = urllib.parse.urlsplit(srv.redirect_uri).port
    assert port is not None
    return port


def still_waiting(srv: LoopbackServer) -> bool:
    try:
        srv.wait(0.3)
    except LoginError as exc:
        return "no login within" in str(exc)
    return False


# --- PKCE -------------------------------------------------------------------------------
def test_pkce_matches_rfc7636_appendix_b() -> None:
    octets = bytes(
        [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186,
         22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]
    )  # fmt: skip
    verifier = base64.urlsafe_b64encode(octets).rstrip(b"=").decode()
    assert verifier == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_and_tokens_are_fresh_and_well_formed() -> None:
    verifiers = {new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", v) for v in verifiers)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge_s256(v)) for v in verifiers)
    tokens = {random_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32,}", t) for t in tokens)


# --- the loopback server ----------------------------------------------------------------
def test_valid_callback_returns_the_code(server: LoopbackServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.redirect_uri)
    response = callback(server, code="4/the-code", state=STATE, scope="openid email")
    assert response.status_code == 200
    assert SUCCESS in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert server.wait(5) == "4/the-code"


def test_favicon_is_404_and_the_login_goes_on(server: LoopbackServer) -> None:
    assert requests.get(server.redirect_uri + "favicon.ico", timeout=10).status_code == 404
    assert callback(server, code="c1", state=STATE).status_code == 200
    assert server.wait(5) == "c1"


def test_wrong_or_missing_state_is_refused_and_the_login_keeps_waiting(
    server: LoopbackServer,
) -> None:
    forged = callback(server, code="stolen", state="someone-else")
    assert forged.status_code == 400
    assert "does not belong to the running login" in forged.text
    assert callback(server, code="stolen").status_code == 400
    assert callback(server, error="access_denied", state="x").status_code == 400
    assert still_waiting(server)
    assert callback(server, code="real", state=STATE).status_code == 200
    assert server.wait(5) == "real"


def test_other_methods_and_a_state_without_code_do_not_end_the_login(
    server: LoopbackServer,
) -> None:
    post = requests.post(server.redirect_uri, params={"code": "c", "state": STATE}, timeout=10)
    assert post.status_code == 404
    assert callback(server, state=STATE).status_code == 400
    assert still_waiting(server)


def test_access_denied_ends_the_wait_at_once(server: LoopbackServer) -> None:
    answers: list[requests.Response] = []
    threading.Timer(0.2, lambda: answers.append(callback(server, error="access_denied",
                                                          state=STATE))).start()  # fmt: skip
    started = time.monotonic()
    with pytest.raises(LoginError) as caught:
        server.wait(30)
    assert time.monotonic() - started < 5
    assert str(caught.value) == DENIED
    assert caught.value.error == "access_denied"
    time.sleep(0.2)
    assert "denied" in answers[0].text and "access_denied" in answers[0].text


def test_other_errors_are_named_and_escaped(server: LoopbackServer) -> None:
    page = callback(server, error="<script>bad</script>", error_description="x", state=STATE)
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    with pytest.raises(LoginError, match=r"failed in the browser \(<script>bad</script>: x\)"):
        server.wait(5)


def test_only_the_first_result_counts(server: LoopbackServer) -> None:
    callback(server, code="first", state=STATE)
    callback(server, code="second", state=STATE)
    callback(server, error="access_denied", state=STATE)
    assert server.submit_pasted_url(f"{server.redirect_uri}?code=third&state={STATE}") is None
    assert server.wait(5) == "first"


def test_timeout_raises_login_error(server: LoopbackServer) -> None:
    started = time.monotonic()
    with pytest.raises(LoginError) as caught:
        server.wait(0.5)
    assert 0.4 < time.monotonic() - started < 3
    assert str(caught.value).startswith("no login within 0.5 s (")
    assert str(caught.value).endswith("; run the command again, or raise --timeout")


def test_busy_port_is_a_usage_error(server: LoopbackServer) -> None:
    port = port_of(server)
    with pytest.raises(UsageError) as caught:
        LoopbackServer(state="other", port=port)
    assert str(caught.value) == (
        f"port {port} on 127.0.0.1 is in use: pick another with --port, "
        "or leave --port out for a free one"
    )
    assert caught.value.exit_code == 2


def test_a_fixed_port_is_used_and_released_on_close() -> None:
    with LoopbackServer(state=STATE) as first:
        port = port_of(first)
    with LoopbackServer(state=STATE, port=port) as again:
        assert again.redirect_uri == f"http://127.0.0.1:{port}/"
        assert callback(again, code="c", state=STATE).status_code == 200
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_listens_on_127_0_0_1_only(server: LoopbackServer) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port_of(server)), timeout=2).close()


def test_an_idle_connection_neither_stalls_the_login_nor_lives_long(
    server: LoopbackServer,
) -> None:
    idle = socket.create_connection(("127.0.0.1", port_of(server)), timeout=15)
    try:
        started = time.monotonic()
        assert callback(server, code="c", state=STATE).status_code == 200
        assert server.wait(5) == "c"
        assert time.monotonic() - started < 3
        assert idle.recv(100) == b""  # the server hung up on it
        assert time.monotonic() - started < 12
    finally:
        idle.close()


def test_no_access_log_on_stderr(server: LoopbackServer, capfd: pytest.CaptureFixture[str]) -> None:
    requests.get(server.redirect_uri + "favicon.ico", timeout=10)
    callback(server, code="c", state="wrong")
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        raw.recv(1000)
    callback(server, code="c", state=STATE)
    server.wait(5)
    assert capfd.readouterr().err == ""


def test_pasted_urls_are_judged_like_callbacks(server: LoopbackServer) -> None:
    base = server.redirect_uri
    assert "not a URL" in (server.submit_pasted_url("just some words") or "")
    assert "has no code" in (server.submit_pasted_url(f"{base}?state={STATE}") or "")
    wrong = server.submit_pasted_url(f"{base}?code=c&state=nope") or ""
    assert "does not belong to the running login" in wrong
    assert "\n" not in wrong
    assert still_waiting(server)
    assert server.submit_pasted_url(f"  {base}?code=pasted&state={STATE}\n") is None
    assert server.wait(5) == "pasted"


def test_a_pasted_denial_raises(server: LoopbackServer) -> None:
    assert (
        server.submit_pasted_url(f"{server.redirect_uri}?error=access_denied&state={STATE}") is None
    )
    with pytest.raises(LoginError, match=re.escape(DENIED)):
        server.wait(5)


# --- the terminal -----------------------------------------------------------------------
def read_pty(master: int, timeout: float = 5.0) -> str:
    """What arrived on the pty's master side until it went quiet."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.3 if chunks else 0.1)
        if not ready:
            if chunks:
                break
            continue
        chunks.append(os.read(master, 4096))
    return b"".join(chunks).decode()


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def test_terminal_stderr_is_enough_when_it_is_a_terminal(
    pty: tuple[int, int], tmp_path: Path
) -> None:
    master, slave = pty
    tty_file = tmp_path / "tty"
    tty_file.touch()
    with os.fdopen(os.dup(slave), "w") as stderr:
        terminal = Terminal(stderr, tty_path=str(tty_file))
        assert terminal.has_person()
        terminal.show("open this URL")
    assert "open this URL" in read_pty(master)
    assert tty_file.read_text() == ""


def test_terminal_copies_to_the_tty_when_stderr_is_captured(
    pty: tuple[int, int], tmp_path: Path
) -> None:
    master, slave = pty
    with open(tmp_path / "stderr", "w+") as stderr:
        terminal = Terminal(stderr, tty_path=os.ttyname(slave))
        assert terminal.has_person()
        terminal.show("open this URL")
        stderr.seek(0)
        assert stderr.read() == "open this URL\n"
    assert "open this URL" in read_pty(master)


def test_terminal_without_any_tty(tmp_path: Path) -> None:
    with open(tmp_path / "stderr", "w+") as stderr:
        for tty_path in (None, str(tmp_path / "missing" / "tty")):
            terminal = Terminal(stderr, tty_path=tty_path)
            assert not terminal.has_person()
            terminal.show("nobody sees this")
            assert terminal.prompt("URL: ") is None
        stderr.seek(0)
        assert stderr.read() == "nobody sees this\n" * 2


def test_prompt_reads_a_line_from_the_tty(pty: tuple[int, int]) -> None:
    master, slave = pty
    terminal = Terminal(sys.stderr, tty_path=os.ttyname(slave))
    os.write(master, b"http://127.0.0.1:1/?code=c&state=s\n")
    assert terminal.prompt("Redirected URL: ") == "http://127.0.0.1:1/?code=c&state=s"
    assert "Redirected URL: " in read_pty(master)
    os.write(master, b"\x04")  # ^D at the start of a line: end of file
    assert terminal.prompt("again: ") is None


def test_default_terminal_in_a_process_without_a_terminal(tmp_path: Path) -> None:
    script = "from flyte_iap.login.terminal import Terminal; t = Terminal(); t.show('hi'); "
    script += "print(t.has_person(), t.prompt('URL: '))"
    err = tmp_path / "stderr"
    with open(err, "w") as stderr:
        result = subprocess.run(
            [sys.executable, "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=30,
            start_new_session=True,  # no controlling terminal: /dev/tty cannot open
        )
    assert result.stdout == "False None\n"
    assert err.read_text() == "hi\n"


# --- the browser ------------------------------------------------------------------------
def base_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "TERM")
    }
    env.update(extra)
    return env


OPEN = (
    "import sys; from flyte_iap.login.browser import open_browser; print(open_browser(sys.argv[1]))"
)


def run_open_browser(url: str, env: dict[str, str]) -> tuple[str, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", OPEN, url], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, time.monotonic() - started


def executable(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def test_open_browser_runs_browser_and_keeps_stdout_clean(tmp_path: Path) -> None:
    record = tmp_path / "opened"
    launcher = executable(tmp_path / "launcher", f'echo "$1" > {record}\necho noise\n')
    url = "http://127.0.0.1:1/o/oauth2/v2/auth?a=1&b=two%20words"
    stdout, _ = run_open_browser(url, base_env(BROWSER=str(launcher)))
    assert stdout == "True\n"  # the launcher's "noise" went to stderr, not stdout
    assert record.read_text() == url + "\n"


def test_open_browser_reports_a_failing_launcher(tmp_path: Path) -> None:
    launcher = executable(tmp_path / "launcher", "exit 3\n")
    stdout, _ = run_open_browser("http://x/", base_env(BROWSER=str(launcher)))
    assert stdout == "False\n"


def test_open_browser_without_any_browser(tmp_path: Path) -> None:
    stdout, _ = run_open_browser("http://x/", base_env(PATH=str(tmp_path)))
    assert stdout == "False\n"


def test_open_browser_never_starts_a_text_browser(tmp_path: Path) -> None:
    record = tmp_path / "lynx-ran"
    executable(tmp_path / "lynx", f"echo ran > {record}\n")  # a shell builtin: PATH is bare
    stdout, _ = run_open_browser("http://x/", base_env(PATH=str(tmp_path), TERM="xterm"))
    assert stdout == "False\n"
    assert not record.exists()


# --- test browsers on the emulator's consent page ----------------------------------------
CHROMIUM_MISSING = chromium_missing()
KINDS = [
    "http",
    pytest.param(
        "chromium",
        marks=pytest.mark.skipif(CHROMIUM_MISSING is not None, reason=str(CHROMIUM_MISSING)),
    ),
]


class Login:
    """A login in progress: the loopback server, PKCE values and the consent URL."""

    def __init__(self, emu: Emulator, server: LoopbackServer) -> None:
        self.emu, self.server, self.verifier = emu, server, new_verifier()
        query = {
            "client_id": emu.config.desktop_client_id,
            "redirect_uri": server.redirect_uri,
            "response_type": "code",
            "scope": "openid email",
            "state": STATE,
            "code_challenge": challenge_s256(self.verifier),
            "code_challenge_method": "S256",
            "nonce": random_token(),
            "access_type": "offline",
        }
        self.url = f"{emu.auth_uri}?{urllib.parse.urlencode(query)}"

    def open_with(self, kind: str, action: str, log: Path) -> None:
        stdout, elapsed = run_open_browser(self.url, base_env(**browser_env(kind, action, log)))
        assert stdout == "True\n"
        assert elapsed < 15  # the launcher detached; the browser works in the background

    def exchange(self, code: str) -> requests.Response:
        cfg = self.emu.config
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": self.verifier,
            "redirect_uri": self.server.redirect_uri,
            "client_id": cfg.desktop_client_id,
            "client_secret": cfg.desktop_client_secret,
            "audience": cfg.webapp_client_id,
        }
        return requests.post(self.emu.token_uri, data=data, timeout=10)


@pytest.fixture
def login(emulator: Emulator, server: LoopbackServer) -> Login:
    return Login(emulator, server)


@pytest.mark.parametrize("kind", KINDS)
def test_browser_allows(kind: str, login: Login, tmp_path: Path) -> None:
    log = tmp_path / "browser.jsonl"
    login.open_with(kind, "allow", log)
    code = login.server.wait(60)
    [entry] = read_log(log)
    assert entry["error"] is None, entry
    assert entry["status"] == 200 and SUCCESS in entry["text"]
    if kind == "http":
        assert entry["visited"][0][1:] == [login.server.redirect_uri + "favicon.ico", 404]
    tokens = login.exchange(code)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["id_token"] and tokens.json()["refresh_token"]


@pytest.mark.parametrize("kind", KINDS)
def test_browser_denies(kind: str, login: Login, tmp_path: Path) -> None:
    log = tmp_path / "browser.jsonl"
    login.open_with(kind, "deny", log)
    with pytest.raises(LoginError, match=re.escape(DENIED)):
        login.server.wait(60)
    [entry] = read_log(log)
    assert entry["error"] is None, entry
    assert "denied" in entry["text"] and "access_denied" in entry["text"]


@pytest.mark.parametrize("kind", KINDS)
def test_browser_with_forged_state_cannot_end_the_login(
    kind: str, login: Login, tmp_path: Path
) -> None:
    log = tmp_path / "browser.jsonl"
    login.open_with(kind, "forge-state", log)
    [entry] = read_log(log)
    assert entry["error"] is None, entry
    assert entry["status"] == 400
    assert "does not belong to the running login" in entry["text"]
    assert still_waiting(login.server)
    assert login.emu.count("token") == 0
    # The genuine redirect, which the forging browser held back, still completes the login.
    assert requests.get(entry["loopback_url"], timeout=10).status_code == 200
    assert login.exchange(login.server.wait(5)).status_code == 200


def test_a_browser_that_never_comes_back_times_out(login: Login, tmp_path: Path) -> None:
    log = tmp_path / "browser.jsonl"
    login.open_with("http", "none", log)
    with pytest.raises(LoginError, match="no login within 1 s"):
        login.server.wait(1)
    [entry] = read_log(log)
    assert entry["action"] == "none" and entry["visited"] == []
    assert login.emu.count("token") == 0
