"""The installed-app login (RFC 8252): a person approves in a browser, possibly elsewhere.

flytekit runs ``proxyCommand`` with stdout and stderr captured, so the URL
also goes to /dev/tty; with no browser and no terminal at all the login
fails at once instead of hanging a ``pyflyte`` process.

The browser's tab shows what the login really came to, not merely that a code arrived.
:func:`authorize` does not know the token endpoint (docs/design.md, "Why it is cut this
way"); it takes the exchange as a callback, ``exchange(authorization) -> T``, and runs
it while the tab that brought the code is kept waiting (at most
``LoginSettings.exchange_wait`` seconds). Its outcome decides the page: a result is a
success page naming its ``email`` and the audience; a :class:`FlyteIapError` is a
failure page with the first line of its message and the command to run again. A failed
exchange fails the login: the error is raised as is (the command reports it on the
terminal, and caches nothing), the login does not go back to the browser for another
code, and a second callback with the same ``state`` is not waited for (it gets a page
saying this login already had its answer). Whatever the exchange retries itself (a
re-read client secret) happens while the tab waits. A URL pasted on the terminal has no
tab waiting: its outcome is shown on the terminal only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import urlencode

from flyte_iap.console import Console
from flyte_iap.errors import FlyteIapError, LoginError, shown
from flyte_iap.login.loopback import DEFAULT_HOLD, LoopbackServer
from flyte_iap.login.pkce import challenge_s256, new_verifier, random_token
from flyte_iap.login.terminal import LoginUi, Terminal

SCOPES = "openid email"


@dataclass(frozen=True)
class LoginSettings:
    """What one login needs to know; plain values, no command line."""

    auth_uri: str
    client_id: str
    #: The audience of the token the login is for (the IAP OAuth client), shown on the
    #: success page; empty: not shown.
    audience: str = ""
    port: int = 0  # 0: any free port
    no_browser: bool = False
    timeout: float = 300.0
    #: The command a person should run in a terminal when nobody can log in here, or
    #: to try again after a failed login.
    retry_command: str = "flyte-iap login"
    #: How long the browser's tab waits for the exchange's outcome (a bound on the
    #: exchange's own requests; past it the tab points at the terminal).
    exchange_wait: float = DEFAULT_HOLD


@dataclass(frozen=True)
class Authorization:
    """What the browser brought back, and what exchanging it needs."""

    code: str
    verifier: str
    redirect_uri: str
    nonce: str


class Account(Protocol):
    """What an exchange's result tells the browser tab: whose login it was."""

    @property
    def email(self) -> str: ...


T = TypeVar("T", bound=Account)


def authorize(
    settings: LoginSettings,
    ui: LoginUi,
    console: Console,
    exchange: Callable[[Authorization], T],
) -> T:
    """Run the consent in a browser (or by a pasted URL), then ``exchange`` the code it
    brought; return the exchange's result, or raise its error (see the module docstring).
    """
    verifier, state, nonce = new_verifier(), random_token(), random_token()
    with LoopbackServer(
        state=state,
        port=settings.port,
        hold=settings.exchange_wait,
        audience=settings.audience,
        retry_command=settings.retry_command,
    ) as server:
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
        grant = Authorization(code, verifier, server.redirect_uri, nonce)
        return _exchange_and_report(server, grant, exchange)


def _exchange_and_report(
    server: LoopbackServer,
    grant: Authorization,
    exchange: Callable[[Authorization], T],
) -> T:
    """Run the exchange while the tab waits, then tell the tab how it went."""
    try:
        result = exchange(grant)
    except FlyteIapError as exc:
        server.report_failure(_one_line(exc))
        raise
    except BaseException:  # interrupted, or a bug: the terminal says more
        server.report_failure("the login stopped unexpectedly (see the terminal)")
        raise
    server.report_success(shown(result.email))
    return result


def _one_line(exc: FlyteIapError) -> str:
    """The first line of an error's message (our messages carry no secret), made safe."""
    lines = str(exc).strip().splitlines()
    return shown(lines[0]) if lines else type(exc).__name__


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
