"""The login as a person meets it: Debian's chromium opened by the tool through $BROWSER,
and --no_browser with the URL on /dev/tty and the redirect pasted back there."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

import pytest
import requests

from flyte_iap.emulator import Emulator, EmulatorConfig

from ..browsers import chromium_missing, launched
from ..cli import UserCli, assert_login_failure, flyte_iap_command
from ..serving_commands import interrupt, start_login
from ..tokens import USER, user_args, user_grants, verify_user_token

needs_chromium = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


def chromium_cli(tmp_path: Path, emu: Emulator, action: str) -> UserCli:
    home = tmp_path / "home"
    home.mkdir()
    return UserCli(home, emu, kind="chromium", action=action)


@needs_chromium
def test_chromium_allow(tmp_path: Path, emulator: Emulator):
    cli = chromium_cli(tmp_path, emulator, "allow")
    result = cli(USER, *user_args(emulator), timeout=120)
    verify_user_token(emulator, result.token)
    (visit,) = cli.browser_visits(1, timeout=60)
    assert launched(cli.browser_log) == [visit["url"]]
    text = str(visit["text"])
    assert "Login succeeded" in text
    assert f"Account {emulator.config.user_email}" in text
    assert f"Audience {emulator.config.webapp_client_id}" in text
    # chromium asked the loopback for /favicon.ico too; the flow did not mind.
    assert user_grants(emulator) == ["authorization_code"]


@needs_chromium
def test_chromium_ends_on_the_failure_when_the_code_is_refused(tmp_path: Path, emulator: Emulator):
    cli = chromium_cli(tmp_path, emulator, "allow")
    c = emulator.config
    refused = {"error": "invalid_grant", "error_description": "Bad Request"}
    emulator.fail_next("token", 400, body=refused)  # the one token request: the exchange
    result = cli(
        USER,
        *("--desktop_client_id", c.desktop_client_id, "--webapp_client_id", c.webapp_client_id),
        timeout=120,
        FLYTE_IAP_DESKTOP_CLIENT_SECRET=c.desktop_client_secret,
    )
    assert_login_failure(result, "exchanging the login code failed (400): invalid_grant")
    assert emulator.count("token") == 1
    (visit,) = cli.browser_visits(1, timeout=60)
    text = str(visit["text"])
    assert visit["status"] == 200 and "Login succeeded" not in text
    assert "Login failed exchanging the login code failed (400): invalid_grant: Bad Request" in text
    assert f"run in a terminal: flyte-iap login --desktop_client_id {c.desktop_client_id}" in text
    assert c.desktop_client_secret not in text
    assert not list(cli.cache_dir.glob("user_*.json"))


@needs_chromium
def test_chromium_deny(tmp_path: Path, emulator: Emulator):
    cli = chromium_cli(tmp_path, emulator, "deny")
    result = cli(USER, *user_args(emulator), timeout=120)
    assert_login_failure(result, "access_denied")
    assert user_grants(emulator) == []
    (visit,) = cli.browser_visits(1, timeout=60)
    assert "denied" in str(visit["text"]).lower()


@needs_chromium
def test_chromium_forged_state(tmp_path: Path, emulator: Emulator):
    """A visit with the real code and a forged state neither ends nor takes over the login:
    the tab gets 400, no code is exchanged, the login still waits (until Ctrl-C)."""
    cli = chromium_cli(tmp_path, emulator, "forge-state")
    login = start_login(cli, USER, *user_args(emulator))
    (visit,) = cli.browser_visits(1, timeout=60)  # chromium has shown the forged visit's page
    assert visit["error"] is None, visit
    assert visit["status"] == 400
    assert user_grants(emulator) == []
    assert login.poll() is None
    code, out, err = interrupt(login)
    assert (code, out) == (130, ""), err
    assert err.splitlines()[-1] == "flyte-iap: interrupted"
    assert user_grants(emulator) == []


class TtyProcess:
    """The CLI with a pseudo-terminal as its controlling terminal (/dev/tty) while
    stdout and stderr are pipes, as under flytekit run from a terminal."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        slave_name = os.ttyname(slave)

        def take_terminal() -> None:  # after setsid: opening a tty makes it ours
            os.close(os.open(slave_name, os.O_RDWR))

        self.proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=take_terminal,
        )
        # Kept open: the tool opens /dev/tty only when it has something to show, and
        # a master whose slave is closed everywhere reads as an error.
        self.slave = slave
        self.screen = ""

    def read_until(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{needle!r} never appeared on the terminal: {self.screen!r}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                self.screen += os.read(self.master, 4096).decode(errors="replace")
        return self.screen

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        os.close(self.master)
        os.close(self.slave)
        return self.proc.returncode, out, err


def test_no_browser_pasting_the_redirected_url(tmp_path: Path):
    with Emulator(EmulatorConfig(auto_approve=True)) as emu:
        home = tmp_path / "home"
        home.mkdir()
        cli = UserCli(home, emu, action="none")
        tty = TtyProcess([*flyte_iap_command(), USER, *user_args(emu, "--no_browser")], cli.env)
        screen = tty.read_until("Redirected URL")
        url = next(word for word in screen.split() if word.startswith(emu.auth_uri))
        # The user opens the URL on another machine; its browser ends on the loopback URL.
        redirect = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
        tty.type(redirect.replace("state=", "state=forged"))
        tty.read_until("does not fit this login")
        assert user_grants(emu) == []
        tty.type(redirect)
        code, out, err = tty.finish()
        assert code == 0, err
        verify_user_token(emu, out.strip())
        assert url in err  # on stderr as well as on the terminal
        # The browser was never opened: webbrowser waits for the launcher, which notes each
        # URL it is given, so by now any opening would show.
        assert launched(cli.browser_log) == []
        assert not cli.browser_log.exists()


def test_browser_that_cannot_open_falls_back_to_the_terminal(tmp_path: Path):
    with Emulator(EmulatorConfig(auto_approve=True)) as emu:
        home = tmp_path / "home"
        home.mkdir()
        cli = UserCli(home, emu)
        env = {**cli.env, "BROWSER": "/nonexistent/browser"}
        tty = TtyProcess([*flyte_iap_command(), USER, *user_args(emu)], env)
        screen = tty.read_until("Redirected URL")
        url = next(word for word in screen.split() if word.startswith(emu.auth_uri))
        tty.type(requests.get(url, allow_redirects=False, timeout=10).headers["Location"])
        code, out, err = tty.finish()
        assert code == 0, err
        verify_user_token(emu, out.strip())
