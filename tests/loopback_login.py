"""Playing the browser's part against a :class:`LoopbackServer`: the redirect back with
a code or an error, in a tab of its own when the server holds the page until the login
reports how it went."""

from __future__ import annotations

import threading
import urllib.parse
from concurrent.futures import Future

import requests

from flyte_iap.errors import LoginError
from flyte_iap.login import LoopbackServer

STATE = "the-state-of-this-login"
#: What a person reads on the terminal when they choose Deny.
DENIED = (
    "the login was denied in the browser (access_denied); run the command again and choose Allow"
)


def callback(srv: LoopbackServer, **params: str) -> requests.Response:
    """The browser's redirect to the loopback server, with these query parameters."""
    return requests.get(srv.redirect_uri, params=params, timeout=10)


def in_background(get: str) -> Future[requests.Response]:
    """A browser tab GETting ``get`` on a thread of its own: the loopback server holds a
    callback with a code until the login reports how the code's exchange went."""
    page: Future[requests.Response] = Future()

    def fetch() -> None:
        try:
            page.set_result(requests.get(get, timeout=30))
        except BaseException as exc:
            page.set_exception(exc)

    threading.Thread(target=fetch, daemon=True).start()
    return page


def open_tab(srv: LoopbackServer, **params: str) -> Future[requests.Response]:
    """:func:`callback` in a tab of its own (see :func:`in_background`)."""
    query = urllib.parse.urlencode(params)
    return in_background(f"{srv.redirect_uri}?{query}")


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
