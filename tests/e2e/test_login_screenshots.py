"""Every page a login can end on, as Debian's headless chromium renders it in real logins.

The installed CLI opens the consent URL through ``$BROWSER`` (a launcher that hands the
URL to the test); chromium, driven by Playwright, clicks Allow or Deny on the emulator's
consent page, or visits the loopback with a wrong link, and lands on the loopback's page.
Each page is shot at a desktop and a phone width, light and dark, into ``tmp_path`` and
``/tmp/flyte-iap-screenshots/`` (for a person to look at). The checks are on what chromium
rendered: a PNG of the window's size, the page's text, the style applied (so the CSP's
hash admits it, and dark mode switches), nothing fetched from anywhere else, and a retry
command that fits the phone's width.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from flyte_iap.emulator import Emulator
from flyte_iap.login import LoopbackServer, pages

from ..browsers import chromium_missing
from ..browsers._launch import CHROMIUM, CHROMIUM_ARGS
from ..cli import Cli, Result, assert_login_failure
from ..loopback_login import STATE
from ..tokens import USER, user_args, verify_user_token

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))

SHARED = Path("/tmp/flyte-iap-screenshots")
SIZES = {"desktop": (900, 700), "phone": (390, 844)}
BACKGROUND = {"light": "rgb(244, 244, 247)", "dark": "rgb(16, 18, 22)"}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """One chromium tab that records every request and every console message."""

    def __init__(self, chromium: Any, out: Path) -> None:
        self.out = out
        self.context = chromium.new_context(viewport=_size("desktop"), device_scale_factor=1)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.requests: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append(m.text))
        self.page.on("pageerror", lambda e: self.console.append(str(e)))

    def shoot(self, name: str) -> str:
        """Screenshots of the page as it is, at each size and scheme; returns its text."""
        page = self.page
        for label in SIZES:
            page.set_viewport_size(_size(label))
            for scheme in BACKGROUND:
                page.emulate_media(color_scheme=scheme)
                path = self.out / f"{name}-{label}-{scheme}.png"
                page.screenshot(path=str(path))
                assert_png(path, SIZES[label])
                SHARED.mkdir(exist_ok=True)
                shutil.copy(path, SHARED / path.name)
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert background == BACKGROUND[scheme], (name, label, scheme)
            if label == "phone":
                fits = "[document.documentElement, ...document.querySelectorAll('pre')]"
                fits += ".every(e => e.scrollWidth <= e.clientWidth)"
                assert page.evaluate(fits), f"{name}: something is wider than a phone"
        page.set_viewport_size(_size("desktop"))
        assert not [m for m in self.console if "Content Security Policy" in m], self.console
        return " ".join(page.inner_text("body").split())

    def close(self) -> None:
        self.context.close()


def _size(label: str) -> Any:
    width, height = SIZES[label]
    return {"width": width, "height": height}


def assert_png(path: Path, size: tuple[int, int]) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    assert struct.unpack(">II", data[16:24]) == size, path
    assert data.endswith(b"IEND\xaeB`\x82"), path


@pytest.fixture
def tab(chromium: Any, tmp_path: Path) -> Iterator[Tab]:
    opened = Tab(chromium, tmp_path)
    yield opened
    opened.close()


class Login:
    """The installed CLI logging a person in, in the background; its browser is ours."""

    def __init__(self, tmp_path: Path, emu: Emulator, **env: str) -> None:
        home = tmp_path / "home"
        home.mkdir()
        # The launcher hands the URL over through a FIFO and exits at once, as a browser
        # launcher does; a thread of ours reads it.
        handover = tmp_path / "opened-url"
        os.mkfifo(handover)
        launcher = tmp_path / "browser"
        launcher.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {handover}\n')
        launcher.chmod(0o755)
        key = emu.write_service_account_key(home / "adc-key.json")
        cli = Cli(home, {**emu.env(), "GOOGLE_APPLICATION_CREDENTIALS": str(key)})
        self.emu = emu
        self._handover = handover
        self._opened: Future[str] = Future()
        threading.Thread(target=_read_into, args=(handover, self._opened), daemon=True).start()
        self._pool = ThreadPoolExecutor(1)
        args = env.pop("args", None) or user_args(emu)
        self.result: Future[Result] = self._pool.submit(
            cli, USER, *args, timeout=120, BROWSER=str(launcher), **env
        )

    def consent_url(self) -> str:
        """The URL the CLI opened the browser at, as soon as it does."""
        wait([self._opened, self.result], timeout=60, return_when=FIRST_COMPLETED)
        if not self._opened.done():
            outcome = self.result.result() if self.result.done() else "still running after 60 s"
            raise AssertionError(f"the CLI never opened the browser: {outcome}")
        return self._opened.result()

    def loopback(self) -> tuple[str, str]:
        """The redirect URI and the state of this login, from its consent URL."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.consent_url()).query))
        return query["redirect_uri"], query["state"]

    def ended(self) -> Result:
        try:
            return self.result.result(120)
        finally:
            if not self._opened.done():  # the browser never opened: free the reader
                with contextlib.suppress(OSError):
                    os.close(os.open(self._handover, os.O_WRONLY | os.O_NONBLOCK))
            self._pool.shutdown()


def _read_into(fifo: Path, opened: Future[str]) -> None:
    try:
        opened.set_result(fifo.read_text())
    except BaseException as exc:
        opened.set_exception(exc)


def decide(tab: Tab, login: Login, button: str) -> None:
    """Open the consent page, press ``button``, and wait for the loopback's page."""
    redirect_uri, _ = login.loopback()
    tab.page.goto(login.consent_url())
    tab.page.click(button)
    tab.page.wait_for_url(lambda u: u.startswith(redirect_uri), wait_until="load")
    assert all(u.startswith((redirect_uri, login.emu.auth_uri)) for u in tab.requests), tab.requests


def test_success(tab: Tab, tmp_path: Path, emulator: Emulator) -> None:
    login = Login(tmp_path, emulator)
    decide(tab, login, "#allow")
    text = tab.shoot("success")
    c = emulator.config
    assert text.startswith(f"flyte-iap Login succeeded Account {c.user_email} ")
    assert f"Audience {c.webapp_client_id}" in text and pages.SUCCESS_NEXT in text
    verify_user_token(emulator, login.ended().token)


def test_denied(tab: Tab, tmp_path: Path, emulator: Emulator) -> None:
    login = Login(tmp_path, emulator)
    decide(tab, login, "#deny")
    text = tab.shoot("denied")
    assert "Login denied" in text and "(access_denied)" in text
    assert f"{pages.DENIED_NEXT} flyte-iap login --desktop_client_id " in text
    assert_login_failure(login.ended(), "access_denied")


def test_failed_exchange(tab: Tab, tmp_path: Path, emulator: Emulator) -> None:
    c = emulator.config
    emulator.fail_next("token", 400, body={"error": "invalid_grant", "error_description": "Bad"})
    login = Login(
        tmp_path,
        emulator,
        args=["--desktop_client_id", c.desktop_client_id, "--webapp_client_id", c.webapp_client_id],
        FLYTE_IAP_DESKTOP_CLIENT_SECRET=c.desktop_client_secret,
    )
    decide(tab, login, "#allow")
    text = tab.shoot("failure")
    assert "Login failed exchanging the login code failed (400): invalid_grant: Bad" in text
    retry = f"flyte-iap login --desktop_client_id {c.desktop_client_id} --webapp_client_id"
    assert f"{pages.RETRY} {retry} {c.webapp_client_id}" in text
    assert c.desktop_client_secret not in text
    assert_login_failure(login.ended(), "invalid_grant")


def test_wrong_links_then_an_error_from_the_browser(
    tab: Tab, tmp_path: Path, emulator: Emulator
) -> None:
    login = Login(tmp_path, emulator)
    redirect_uri, state = login.loopback()
    visits = {
        "wrong-link": f"{redirect_uri}?code=stolen&state=someone-else",
        "no-code": f"{redirect_uri}?state={state}",
        "not-found": f"{redirect_uri}favicon.ico",
    }
    texts = {}
    for name, url in visits.items():
        answer = tab.page.goto(url)
        assert answer is not None and answer.status == (404 if name == "not-found" else 400)
        texts[name] = tab.shoot(name)
    assert pages.FOREIGN in texts["wrong-link"] and pages.NO_CODE in texts["no-code"]
    assert "flyte-iap login --desktop_client_id" in texts["wrong-link"]
    assert pages.NOT_FOUND in texts["not-found"]
    assert not login.result.done()  # none of them ended the login
    error = {"error": "server_error", "error_description": "The <b>server</b> fell over"}
    query = urllib.parse.urlencode({**error, "state": state})
    assert tab.page.goto(f"{redirect_uri}?{query}") is not None
    text = tab.shoot("browser-error")
    assert "Login failed" in text and "server_error: The <b>server</b> fell over" in text
    assert_login_failure(login.ended(), "server_error")


def test_a_tab_held_past_the_outcome(tab: Tab) -> None:
    with LoopbackServer(state=STATE, hold=1) as server:
        answer = tab.page.goto(f"{server.redirect_uri}?code=c&state={STATE}")
        assert answer is not None and answer.status == 200
        assert pages.STILL_RUNNING in tab.shoot("still-running")
        answer = tab.page.goto(f"{server.redirect_uri}?code=again&state={STATE}")
        assert answer is not None and answer.status == 409
        assert pages.ANSWERED in tab.shoot("already-answered")
    with LoopbackServer(state=STATE, hold=30) as server:
        # The login ends without a report once the tab's code is in: its page then says so.
        ends = threading.Thread(target=_end_once_the_code_is_in, args=(server,))
        ends.start()
        tab.page.goto(f"{server.redirect_uri}?code=c&state={STATE}")
        ends.join(60)
        assert pages.ENDED in tab.shoot("ended")


def _end_once_the_code_is_in(server: LoopbackServer) -> None:
    try:
        server.wait(60)
    finally:
        server.close()
