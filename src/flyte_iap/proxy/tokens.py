"""The proxy's token: fetched in process by the use cases, one fetch at a time.

:func:`token_source` turns a token command's request into the fetches the proxy makes:
the first one (a person may log in in the browser then, before anything listens) and
the later ones, which never open a browser.

Requests ask :meth:`TokenProvider.get`; while the token has more than the margin left
it is answered from memory. Otherwise one request fetches (the use case in a worker
thread, so the event loop keeps serving) and every other one waits for that fetch:
50 requests at once cause one fetch. After an IAP-generated 401 :meth:`renew` gets a
new token once (not again within ``FORCE_INTERVAL``: a token IAP keeps refusing, say
for the wrong audience, must not hammer Google).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import NamedTuple

from flyte_iap.cache import UserStore
from flyte_iap.console import Console
from flyte_iap.errors import FlyteIapError, LoginError
from flyte_iap.login import LoginUi, Terminal
from flyte_iap.tokens import (
    ServiceAccountRequest,
    Services,
    UserRequest,
    get_service_account_token,
    get_user_token,
)

#: Least time between two forced renewals.
FORCE_INTERVAL = 30.0


class Token(NamedTuple):
    value: str
    expiry: float


class LoginNeeded(FlyteIapError):
    """A person's login is gone (revoked, expired, logged out): only a browser login in a
    terminal brings it back, which the proxy never opens by itself."""


#: ``fetch(force)``: a token from the use case; ``force`` asks for a new one even when
#: the cached one looks fresh. Blocking; runs in a worker thread.
Fetch = Callable[[bool], Token]


class TokenProvider:
    """The token for the proxy's requests: from memory, else fetched once for all."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        margin: float,
        clock: Callable[[], float],
        console: Console,
        first: Token | None = None,
    ) -> None:
        self._fetch = fetch
        self._margin = margin
        self._clock = clock
        self._console = console
        self._token = first
        self._lock = asyncio.Lock()
        self._forced_at = -FORCE_INTERVAL
        self._told_login = False
        #: How many fetches were made (for tests and ``--verbose``).
        self.fetches = 0

    def _fresh(self) -> Token | None:
        token = self._token
        if token is not None and token.expiry - self._margin > self._clock():
            return token
        return None

    async def get(self) -> str:
        """A token with more than the margin left."""
        token = self._fresh()
        if token is not None:
            return token.value
        async with self._lock:
            token = self._fresh()  # another request fetched it while this one waited
            if token is None:
                token = await self._run(force=False)
            return token.value

    async def renew(self, refused: str) -> str | None:
        """A new token after IAP refused ``refused``; None when none is to be had now
        (renewed too recently): the 401 then passes on."""
        async with self._lock:
            current = self._token
            if current is not None and current.value != refused:
                return current.value  # renewed by another request meanwhile
            if self._clock() - self._forced_at < FORCE_INTERVAL:
                return None
            self._forced_at = self._clock()
            return (await self._run(force=True)).value

    async def _run(self, *, force: bool) -> Token:
        self.fetches += 1
        self._console.debug("getting a new token" + (" (IAP refused the last one)" * force))
        try:
            token = await asyncio.to_thread(self._fetch, force)
        except LoginNeeded as exc:
            if not self._told_login:
                self._told_login = True
                self._console.say(f"flyte-iap: {exc}")
            raise
        self._told_login = False
        self._token = token
        return token


def token_source(
    request: ServiceAccountRequest | UserRequest,
    services: Services,
    store: UserStore,
    ui: LoginUi,
) -> tuple[Callable[[], Token], Fetch]:
    """(the first fetch, the later ones) of the token ``request`` asks for, by its use case
    in this process. ``store`` keeps a person's login, ``ui`` shows the first login."""
    if isinstance(request, ServiceAccountRequest):
        sa = request

        def fetch_sa(force: bool) -> Token:
            entry = get_service_account_token(sa.renewing() if force else sa, services)
            return Token(entry.id_token, entry.expiry)

        return lambda: fetch_sa(False), fetch_sa
    # Later renewals: nobody to show a URL to and no browser, so a login that needs the
    # browser fails at once instead of opening one from the proxy.
    silent_ui = LoginUi(Terminal(stderr=io.StringIO(), tty_path=None), lambda url: False)
    silent = request.replace(no_browser=False)

    def first() -> Token:
        entry = get_user_token(request, services, store, ui)
        return Token(entry.id_token, entry.expiry)

    def later(force: bool) -> Token:
        asked = silent.replace(refresh_margin=float("inf")) if force else silent
        try:
            entry = get_user_token(asked, services, store, silent_ui)
        except LoginError:
            raise LoginNeeded(
                f"the login is no longer valid (revoked or expired): run `{request.login_command}` "
                "in a terminal; until then the proxy answers 401"
            ) from None
        return Token(entry.id_token, entry.expiry)

    return first, later
