"""What the browser tab and the terminal say after a login, run through the command line
in process: the real loopback server, the emulator's token endpoint, and a browser made
of ``requests`` that the tool opens (a seam of the test wiring, as ``$BROWSER`` is)."""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from flyte_iap.cli.app import run
from flyte_iap.cli.wiring import Wiring
from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.login import LoginUi, Terminal, pages

from ..cli import Result, assert_login_failure, isolated_env
from ..tokens import USER, user_args, user_grants, verify_user_token

FORGED_LINE = "flyte-iap: logged in as admin@corp"
HOSTILE = "\x1b]0;x\x07\n" + FORGED_LINE


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


class Browser:
    """Plays the person's browser on each login URL, in a thread: ``allow`` follows the
    auto-approved consent back to the loopback; ``bogus-code`` swaps the code it brought
    for one Google never issued; ``hostile-error`` comes back with an ``error`` redirect
    whose description tries to forge a line of ours. ``page`` is the last page it got."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.done = threading.Event()
        self.page: requests.Response | None = None

    def open(self, url: str) -> bool:
        threading.Thread(target=self._visit, args=(url,), daemon=True).start()
        return True

    def _visit(self, url: str) -> None:
        try:
            self.page = requests.get(self._loopback_url(url), timeout=30)
        finally:
            self.done.set()

    def _loopback_url(self, url: str) -> str:
        if self.action == "allow":
            return url  # requests follows the consent's redirect to the loopback server
        if self.action == "bogus-code":
            redirect = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
            bogus = {**query_of(redirect), "code": "4/bogus"}
            return f"{redirect.split('?')[0]}?{urllib.parse.urlencode(bogus)}"
        query = query_of(url)
        denial = {"error": "server_error", "error_description": HOSTILE, "state": query["state"]}
        return f"{query['redirect_uri']}?{urllib.parse.urlencode(denial)}"

    def text(self) -> str:
        assert self.done.wait(10), "the browser got no page"
        assert self.page is not None
        return self.page.text


class PastingTerminal(Terminal):
    """A person at the terminal with no browser here: logs in elsewhere and pastes back
    the address the browser ended on, its code swapped for one Google never issued."""

    def __init__(self) -> None:
        super().__init__(sys.stderr, tty_path=None)
        self.shown: list[str] = []

    def show(self, message: str) -> None:
        self.shown.append(message)
        super().show(message)

    def has_person(self) -> bool:
        return True

    def prompt(self, text: str) -> str | None:
        url = next(word for word in self.shown[0].split() if word.startswith("http"))
        query = query_of(url)
        return f"{query['redirect_uri']}?code=4%2Fbogus&state={query['state']}"


class LoginWiring(Wiring):
    """The test wiring, with the browser seam and no controlling terminal."""

    def __init__(
        self,
        env: dict[str, str],
        open_browser: Callable[[str], bool],
        terminal: Callable[[], Terminal] = lambda: Terminal(sys.stderr, tty_path=None),
    ) -> None:
        super().__init__(env, sleep=lambda seconds: None)
        self._open_browser = open_browser
        self._terminal = terminal

    def login_ui(self) -> LoginUi:
        return LoginUi(self._terminal(), self._open_browser)


class Person:
    """One person's home, pointed at the emulator, logging in with ``browser``."""

    def __init__(self, home: Path, emu: Emulator) -> None:
        key = emu.write_service_account_key(home / "adc.json")  # reads Secret Manager
        self.emu = emu
        self.home = home
        self.env = isolated_env(home, {**emu.env(), "GOOGLE_APPLICATION_CREDENTIALS": str(key)})

    def log_in(self, browser: Browser, *extra: str, pasting: bool = False) -> Result:
        out, err = io.StringIO(), io.StringIO()
        wiring = (
            LoginWiring(self.env, browser.open, PastingTerminal)
            if pasting
            else LoginWiring(self.env, browser.open)
        )
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run([USER, *user_args(self.emu, "--timeout", "20", *extra)], wiring)
        return Result(code, out.getvalue(), err.getvalue())

    def cached(self) -> list[Path]:
        return list((self.home / "cache").glob("user_*.json"))


@pytest.fixture
def person(home: Path, emu: Emulator) -> Person:
    return Person(home, emu)


def test_a_bogus_code_shows_the_failure_in_the_tab_and_fails_the_command(
    person: Person, emu: Emulator
) -> None:
    browser = Browser("bogus-code")
    result = person.log_in(browser)
    assert_login_failure(result, "exchanging the login code failed (400)", "invalid_grant")
    assert user_grants(emu) == ["authorization_code"]  # the bogus code was tried, and refused
    page = browser.text()
    assert "Login succeeded" not in page
    assert "<title>flyte-iap: Login failed</title>" in page
    assert '<p class="reason">exchanging the login code failed (400): invalid_grant' in page
    assert f'<p>{pages.RETRY}</p><pre><code><span class="arg"><span>flyte-iap</span>' in page
    assert "<span>--desktop_client_id</span>" in page
    assert emu.config.desktop_client_secret not in page
    assert not person.cached()


@pytest.mark.timeout(10)  # ten times what it takes; the login itself would wait 20 s
def test_a_pasted_bogus_code_fails_on_the_terminal_at_once(person: Person, emu: Emulator) -> None:
    """The pasted URL ends the wait (not the 20 s --timeout); no tab is held for the
    outcome (that a report does not wait for one is test_loopback's)."""
    browser = Browser("allow")  # never opened: --no_browser
    result = person.log_in(browser, "--no_browser", pasting=True)
    lines = result.stderr.splitlines()
    assert lines[0] == "flyte-iap: open this URL in a browser and log in:"
    assert result.returncode == 1 and result.stdout == ""
    assert lines[3:] == [
        "flyte-iap: exchanging the login code failed (400): invalid_grant: Malformed auth code."
    ]
    assert user_grants(emu) == ["authorization_code"]
    assert not browser.done.is_set() and not person.cached()


def test_the_good_code_shows_the_success_with_the_email(person: Person, emu: Emulator) -> None:
    browser = Browser("allow")
    result = person.log_in(browser)
    verify_user_token(emu, result.token)
    email = emu.config.user_email
    page = browser.text()
    assert "<h1>Login succeeded</h1>" in page and pages.SUCCESS_NEXT in page
    assert f"<dt>Account</dt><dd>{email}</dd>" in page
    assert f'<dt>Audience</dt><dd class="mono">{emu.config.webapp_client_id}</dd>' in page
    assert f"flyte-iap: logged in as {email}\n" in result.stderr
    assert person.cached()


def test_a_hostile_error_description_is_not_printed_raw(person: Person, emu: Emulator) -> None:
    browser = Browser("hostile-error")
    result = person.log_in(browser)
    assert_login_failure(result, "the login failed in the browser (server_error: ?]0;x??")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert not any(line.startswith(FORGED_LINE) for line in result.stderr.splitlines())
    assert user_grants(emu) == []
    page = browser.text()
    assert "<h1>Login failed</h1>" in page and "server_error: ?]0;x??" in page
    assert "\x1b" not in page and "<span>--desktop_client_id</span>" in page


def test_a_hostile_email_claim_is_not_printed_raw(home: Path) -> None:
    with Emulator(EmulatorConfig(auto_approve=True, user_email="ada@example.com" + HOSTILE)) as emu:
        browser = Browser("allow")
        result = Person(home, emu).log_in(browser)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stderr and "\x07" not in result.stderr
        assert not any(line.startswith(FORGED_LINE) for line in result.stderr.splitlines())
        assert f"flyte-iap: logged in as ada@example.com?]0;x??{FORGED_LINE}\n" in result.stderr
        page = browser.text()
        assert "\x1b" not in page and "\x07" not in page
        assert f"<dd>ada@example.com?]0;x??{FORGED_LINE}</dd>" in page
