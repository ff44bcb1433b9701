"""The installed-app login (RFC 8252): a person approves in a browser, possibly elsewhere.

flytekit runs ``proxyCommand`` with stdout and stderr captured, so the URL
also goes to /dev/tty; with no browser and no terminal at all the login
fails at once instead of hanging a ``pyflyte`` process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from flyte_iap.console import Console
from flyte_iap.errors import LoginError
from flyte_iap.login.loopback import LoopbackServer
from flyte_iap.login.pkce import challenge_s256, new_verifier, random_token
from flyte_iap.login.terminal import Terminal

SCOPES = "openid email"


@dataclass(frozen=True)
class LoginSettings:
    """What one login needs to know; plain values, no command line."""

    auth_uri: str
    client_id: str
    port: int = 0  # 0: any free port
    no_browser: bool = False
    timeout: float = 300.0
    #: The command a person should run in a terminal when nobody can log in here.
    retry_command: str = "flyte-iap login"


@dataclass
class LoginUi:
    """The seams of a login: where a person sees messages, and how a browser opens."""

    terminal: Terminal
    open_browser: Callable[[str], bool]


@dataclass(frozen=True)
class Authorization:
    """What the browser brought back, and what exchanging it needs."""

    code: str
    verifier: str
    redirect_uri: str
    nonce: str


def authorize(settings: LoginSettings, ui: LoginUi, console: Console) -> Authorization:
    """Run the consent in a browser (or by a pasted URL); return the authorization code."""
    verifier, state, nonce = new_verifier(), random_token(), random_token()
    with LoopbackServer(state=state, port=settings.port) as server:
        url = _auth_url(settings, server.redirect_uri, state, nonce, verifier)
        opened = not settings.no_browser and ui.open_browser(url)
        if not opened and not settings.no_browser and not ui.terminal.has_person():
            raise LoginError(
                "cannot log in here: no browser could be opened and no terminal can show the "
                f"login URL.\nRun `{settings.retry_command}` in a terminal, then try again."
            )
        if opened:
            ui.terminal.show(
                f"flyte-iap: log in in the browser that opened; if none did, open:\n{url}"
            )
        else:
            ui.terminal.show(
                f"flyte-iap: open this URL in a browser and log in:\n{url}\n"
                "On another machine, paste here the URL the browser ends up on "
                "(it starts with http://127.0.0.1)."
            )
            _accept_pasted_urls(server, ui.terminal)
        console.debug(f"waiting up to {settings.timeout:.0f} s on {server.redirect_uri}")
        code = server.wait(settings.timeout)
        return Authorization(code, verifier, server.redirect_uri, nonce)


def _auth_url(
    settings: LoginSettings, redirect_uri: str, state: str, nonce: str, verifier: str
) -> str:
    query = {
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": SCOPES,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge_s256(verifier),
        "code_challenge_method": "S256",
        "access_type": "offline",
    }
    return f"{settings.auth_uri}?{urlencode(query)}"


def _accept_pasted_urls(server: LoopbackServer, terminal: Terminal) -> None:
    """Prompt on the terminal for the redirected URL, in the background, until one fits."""

    def prompt_loop() -> None:
        while True:
            line = terminal.prompt("Redirected URL (or wait for this machine's browser): ")
            if line is None:
                return
            if not line.strip():
                continue
            reason = server.submit_pasted_url(line.strip())
            if reason is None:
                return
            terminal.show(f"flyte-iap: that URL does not fit this login: {reason}")

    threading.Thread(target=prompt_loop, name="paste-url", daemon=True).start()
