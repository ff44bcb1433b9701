"""The login's edges that need other processes: ``webbrowser`` running a launcher, the
test browsers (one on ``requests``, one headless chromium) on the emulator's consent page,
a process with no terminal, and a connection that idles until the server hangs up."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

import pytest
import requests

from flyte_iap.emulator import Emulator
from flyte_iap.errors import LoginError
from flyte_iap.login import LoopbackServer, challenge_s256, new_verifier, pages, random_token

from ..browsers import browser_env, chromium_missing, launched, read_log
from ..loopback_login import DENIED, STATE, in_background, port_of


@pytest.mark.timeout(60)  # a hang guard: the server hangs up on an idle one after 5 s
def test_an_idle_connection_neither_stalls_the_login_nor_lives_long(
    server: LoopbackServer,
) -> None:
    idle = socket.create_connection(("127.0.0.1", port_of(server)))
    try:
        tab = in_background(f"{server.redirect_uri}?code=c&state={STATE}")
        assert server.wait(60) == "c"
        server.report_success("ada@example.com")
        assert tab.result(60).status_code == 200
        # The tab was served while the idle connection was still open: it did not wait
        # for the server to give up on that one.
        idle.setblocking(False)
        with pytest.raises(BlockingIOError):
            idle.recv(100)
        idle.setblocking(True)
        assert idle.recv(100) == b""  # then the server hung up on it, unasked
    finally:
        idle.close()


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


def run_open_browser(url: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", OPEN, url], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def executable(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def test_open_browser_runs_browser_and_keeps_stdout_clean(tmp_path: Path) -> None:
    record = tmp_path / "opened"
    launcher = executable(tmp_path / "launcher", f'echo "$1" > {record}\necho noise\n')
    url = "http://127.0.0.1:1/o/oauth2/v2/auth?a=1&b=two%20words"
    stdout = run_open_browser(url, base_env(BROWSER=str(launcher)))
    assert stdout == "True\n"  # the launcher's "noise" went to stderr, not stdout
    assert record.read_text() == url + "\n"


def test_open_browser_reports_a_failing_launcher(tmp_path: Path) -> None:
    launcher = executable(tmp_path / "launcher", "exit 3\n")
    stdout = run_open_browser("http://x/", base_env(BROWSER=str(launcher)))
    assert stdout == "False\n"


def test_open_browser_without_any_browser(tmp_path: Path) -> None:
    stdout = run_open_browser("http://x/", base_env(PATH=str(tmp_path)))
    assert stdout == "False\n"


def test_open_browser_never_starts_a_text_browser(tmp_path: Path) -> None:
    record = tmp_path / "lynx-ran"
    executable(tmp_path / "lynx", f"echo ran > {record}\n")  # a shell builtin: PATH is bare
    stdout = run_open_browser("http://x/", base_env(PATH=str(tmp_path), TERM="xterm"))
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
        stdout = run_open_browser(self.url, base_env(**browser_env(kind, action, log)))
        assert stdout == "True\n"
        assert launched(log) == [self.url]

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
    # webbrowser has returned, and the browser cannot have finished: the loopback holds
    # its tab until the report below. So the launcher detached, as a real one does.
    assert not log.exists()
    code = login.server.wait(60)
    tokens = login.exchange(code)  # while the browser waits for the page
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["id_token"] and tokens.json()["refresh_token"]
    login.server.report_success(login.emu.config.user_email)
    [entry] = read_log(log)
    assert entry["error"] is None, entry
    assert entry["status"] == 200 and "Login succeeded" in entry["text"]
    assert f"Account {login.emu.config.user_email}" in entry["text"]
    assert pages.SUCCESS_NEXT in entry["text"]
    if kind == "http":
        assert entry["visited"][0][1:] == [login.server.redirect_uri + "favicon.ico", 404]


@pytest.mark.parametrize("kind", KINDS)
def test_browser_shows_a_refused_code_as_a_failure(kind: str, login: Login, tmp_path: Path) -> None:
    log = tmp_path / "browser.jsonl"
    login.open_with(kind, "allow", log)
    assert not log.exists()  # held until the report: the launcher detached
    refused = login.exchange(login.server.wait(60) + "-tampered")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    login.server.report_failure("invalid_grant: Malformed auth code.")
    [entry] = read_log(log)
    assert entry["error"] is None, entry
    assert "Login succeeded" not in entry["text"]
    assert "Login failed invalid_grant: Malformed auth code." in entry["text"]
    assert f"{pages.RETRY} flyte-iap login" in entry["text"]


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
    assert not login.server.answered()
    assert login.emu.count("token") == 0
    # The genuine redirect, which the forging browser held back, still completes the login.
    tab = in_background(entry["loopback_url"])
    assert login.exchange(login.server.wait(60)).status_code == 200
    login.server.report_success(login.emu.config.user_email)
    assert "<h1>Login succeeded</h1>" in tab.result(60).text


def test_a_browser_that_never_comes_back_times_out(login: Login, tmp_path: Path) -> None:
    log = tmp_path / "browser.jsonl"
    login.open_with("http", "none", log)
    with pytest.raises(LoginError, match="no login within 1 s"):
        login.server.wait(1)
    [entry] = read_log(log)
    assert entry["action"] == "none" and entry["visited"] == []
    assert login.emu.count("token") == 0
