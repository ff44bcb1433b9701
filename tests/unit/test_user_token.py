"""A person's token in process: the use case with a browser double that plays the person
on the emulator's consent page, a terminal with no tty, and the clock seam."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
import requests

from flyte_iap.cache import TokenCache, UserEntry, UserStore, user_entry_name
from flyte_iap.console import Console
from flyte_iap.emulator import Emulator
from flyte_iap.errors import LoginError, OAuthError
from flyte_iap.login import LoginUi, Terminal
from flyte_iap.tokens import Services, UserRequest, get_user_token
from flyte_iap.transport import HttpClient

from ..cli import isolated_env
from ..tokens import user_grants, verify_user_token


class Person:
    """Plays the person: opens each login URL in a thread that follows the consent
    page (auto-approved) back to the loopback server, as a browser would."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.present = True

    def open_browser(self, url: str) -> bool:
        if not self.present:
            return False
        self.opened.append(url)
        threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10}).start()
        return True


class Login:
    """One person's seams: the cache, the store, the browser, the terminal, the clock."""

    def __init__(self, home: Path, emu: Emulator) -> None:
        key = emu.write_service_account_key(home / "adc.json")  # reads Secret Manager
        self.emu = emu
        self.env = isolated_env(home, {**emu.env(), "GOOGLE_APPLICATION_CREDENTIALS": str(key)})
        self.err = io.StringIO()
        self.cache = TokenCache(str(home / "cache"))
        self.store = UserStore(self.cache, "file", self.err.write)
        self.person = Person()
        self.sleeps: list[float] = []
        self.now: float | None = None

    def clock(self) -> float:
        return self.now if self.now is not None else time.time()

    def request(self, **changes: object) -> UserRequest:
        c = self.emu.config
        fields: dict[str, object] = {
            "desktop_client_id": c.desktop_client_id,
            "audience": c.webapp_client_id,
            "secret_name": c.desktop_secret_name,
            "project": c.project,
            "login_timeout": 10.0,
            **changes,
        }
        return UserRequest(**fields)  # type: ignore[arg-type]

    def token(self, **changes: object) -> UserEntry:
        services = Services(
            self.env,
            self.cache,
            HttpClient(sleep=self.sleeps.append),
            Console(self.err, verbose=True),
            self.clock,
        )
        ui = LoginUi(Terminal(self.err, tty_path=None), self.person.open_browser)
        return get_user_token(self.request(**changes), services, self.store, ui)

    @property
    def name(self) -> str:
        c = self.emu.config
        return user_entry_name(c.desktop_client_id, c.webapp_client_id)

    def saved(self) -> UserEntry:
        entry = self.store.load(self.name)
        assert entry is not None
        return entry


@pytest.fixture
def login(home: Path, emu: Emulator) -> Login:
    return Login(home, emu)


def test_cache_lifecycle_login_cached_refreshed_revoked(login: Login, emu: Emulator) -> None:
    first = login.token()
    verify_user_token(emu, first.id_token)
    assert len(login.person.opened) == 1 and user_grants(emu) == ["authorization_code"]
    assert f"logged in as {emu.config.user_email}" in login.err.getvalue()
    saved = login.saved()
    assert saved.refresh_token and saved.client_secret == emu.config.desktop_client_secret

    login.now = first.expiry - 400  # fresh: nothing asked of anyone
    asked = emu.count("token")
    assert login.token().id_token == first.id_token
    assert emu.count("token") == asked

    login.now = first.expiry - 200  # inside the 5-minute margin: refreshed, no browser
    refreshed = login.token()
    assert refreshed.id_token != first.id_token and len(login.person.opened) == 1
    assert user_grants(emu) == ["authorization_code", "refresh_token"]
    assert emu.count("secret") == 1  # the secret came from the cache

    requests.post(emu.revoke_uri, data={"token": login.saved().refresh_token}, timeout=10)
    login.now = refreshed.expiry - 200
    again = login.token()
    verify_user_token(emu, again.id_token)
    assert "no longer valid" in login.err.getvalue()
    assert len(login.person.opened) == 2


def test_force_login_opens_the_browser_even_when_fresh(login: Login) -> None:
    login.token()
    login.token(force_login=True)
    assert len(login.person.opened) == 2


def test_a_blip_while_refreshing_keeps_everything(login: Login, emu: Emulator) -> None:
    first = login.token()
    saved = login.saved()
    login.now = first.expiry - 200
    emu.fail_next("token", 503, 3)
    assert login.token().id_token == first.id_token  # not expired yet: handed back
    assert "could not refresh" in login.err.getvalue() and len(login.sleeps) == 2
    login.now = first.expiry + 10  # expired: the blip is the answer
    emu.fail_next("token", 503, 3)
    with pytest.raises(OAuthError) as caught:
        login.token()
    assert caught.value.status == 503
    kept = login.saved()
    assert (kept.refresh_token, kept.client_secret) == (saved.refresh_token, saved.client_secret)
    assert len(login.person.opened) == 1


def test_a_rotated_secret_is_read_again_once(login: Login, emu: Emulator) -> None:
    first = login.token()
    record = login.cache.read(login.name)
    assert record is not None
    login.cache.write(login.name, {**record, "client_secret": "rotated-away"})
    login.now = first.expiry - 200
    verify_user_token(emu, login.token().id_token)
    assert emu.count("secret") == 2
    assert login.saved().client_secret == emu.config.desktop_client_secret


@pytest.mark.timeout(10)  # ten times what it takes; waiting for the login would hang
def test_nobody_to_log_in_fails_at_once_with_the_command_to_run(
    login: Login, emu: Emulator
) -> None:
    login.person.present = False
    words = ("flyte-iap", "login", "--desktop_client_id", "D", "--webapp_client_id", "W")
    command = " ".join(words)
    with pytest.raises(LoginError) as caught:
        login.token(login_words=words, login_timeout=600.0)
    assert f"Run `{command}` in a terminal" in str(caught.value)
    assert emu.count("auth") == 0


def test_an_explicit_secret_is_never_cached(login: Login, emu: Emulator) -> None:
    login.token(secret_name=None, project=None, client_secret=emu.config.desktop_client_secret)
    assert login.saved().client_secret == ""
    assert emu.count("secret") == 0
