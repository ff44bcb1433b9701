"""The browser login: PKCE, a loopback redirect, and a person who may be elsewhere.

flytekit runs ``proxyCommand`` with stdout and stderr captured, so the URL
also goes to /dev/tty; with no browser and no terminal at all the login
fails at once instead of hanging a ``pyflyte`` process.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flyte_iap.config import Endpoints
from flyte_iap.console import Console
from flyte_iap.loopback import LoginError, LoopbackServer
from flyte_iap.pkce import challenge_s256, new_verifier, random_token
from flyte_iap.terminal import Terminal
from flyte_iap.user_oauth import SCOPES, UserClient, UserTokens

if TYPE_CHECKING:
    from flyte_iap.user_token import UserRequest


@dataclass
class LoginUi:
    """The seams of a login: where a person sees messages, and how a browser opens."""

    terminal: Terminal
    open_browser: Callable[[str], bool]


def browser_login(
    request: UserRequest,
    endpoints: Endpoints,
    client: UserClient,
    secret: str,
    ui: LoginUi,
    console: Console,
) -> UserTokens:
    """Run the installed-app flow and exchange the code (with ``audience``)."""
    verifier, state, nonce = new_verifier(), random_token(), random_token()
    with LoopbackServer(state=state, port=request.port) as server:
        url = _auth_url(endpoints, client, server.redirect_uri, state, nonce, verifier)
        opened = not request.no_browser and ui.open_browser(url)
        if not opened and not request.no_browser and not ui.terminal.has_person():
            raise LoginError(_nobody_there(request))
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
        console.debug(f"waiting up to {request.login_timeout:.0f} s on {server.redirect_uri}")
        code = server.wait(request.login_timeout)
        tokens = client.exchange_code(code, verifier, server.redirect_uri, secret, nonce)
    ui.terminal.show(f"flyte-iap: logged in as {tokens.email}")
    return tokens


def _auth_url(
    endpoints: Endpoints,
    client: UserClient,
    redirect_uri: str,
    state: str,
    nonce: str,
    verifier: str,
) -> str:
    query = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": SCOPES,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge_s256(verifier),
        "code_challenge_method": "S256",
        "access_type": "offline",
    }
    return f"{endpoints.auth_uri}?{urlencode(query)}"


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


def _nobody_there(request: UserRequest) -> str:
    args = [
        "flyte-iap",
        "login",
        "--desktop_client_id",
        request.desktop_client_id,
        "--webapp_client_id",
        request.audience,
    ]
    if request.secret_name and request.project:
        args += [
            "--desktop_client_secret_gcp_secret_name",
            request.secret_name,
            "--project",
            request.project,
        ]
    if request.client_secret:
        args += ["--desktop_client_secret", "..."]
    return (
        "cannot log in here: no browser could be opened and no terminal can show the login URL.\n"
        f"Run `{shlex.join(args)}` in a terminal, then try again."
    )
