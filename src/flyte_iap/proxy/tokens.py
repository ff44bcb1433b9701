"""The proxy's token: fetched in process by the use cases, one fetch at a time.

:func:`token_source` turns a token command's request into the fetches the proxy makes:
the first one (a person may log in in the browser then, before anything listens) and
the later ones, which never open a browser. Each fetch has the network budget a command
has: a proxy that runs for days must not use up, fetch after fetch, the budget of one.

Requests ask :meth:`TokenProvider.get`; while the token has more than the margin left
it is answered from memory. Otherwise one request starts a fetch (the use case in a
thread of its own, so the event loop keeps serving) and every request that comes while
it runs waits for that same fetch and shares its outcome, token or failure: 50 requests
at once cause one fetch. After a failed fetch the next one waits (``BACKOFF_FIRST``,
doubling up to ``BACKOFF_MAX``); requests meanwhile get that failure at once. A login
that needs the browser again (:class:`LoginNeeded`) is not backed off: the next request
reads the cache again, so a login made in a terminal is picked up at once, and without a
refresh token that costs no network call. After an IAP-generated 401 :meth:`renew` gets
a new token once (not again within ``FORCE_INTERVAL``: a token IAP keeps refusing, say
for the wrong audience, must not hammer Google).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

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
#: Seconds before the fetch after a failed one; doubled per failure in a row, up to
#: BACKOFF_MAX.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0


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
        self._running: asyncio.Future[Token] | None = None
        self._forced_at = -FORCE_INTERVAL
        self._told_login = False
        self._failure: FlyteIapError | None = None
        self._failures = 0
        self._retry_at = 0.0
        #: How many fetches were made (for tests and ``--verbose``).
        self.fetches = 0

    def _fresh(self) -> Token | None:
        token = self._token
        if token is not None and token.expiry - self._margin > self._clock():
            return token
        return None

    async def get(self) -> str:
        """A token with more than the margin left; :class:`LoginNeeded` or another
        :class:`FlyteIapError` when there is none to be had now."""
        token = self._fresh()
        if token is not None:
            return token.value
        return (await self._shared(force=False)).value

    async def renew(self, refused: str) -> str | None:
        """A new token after IAP refused ``refused``; None when none is to be had now
        (renewed too recently): the 401 then passes on."""
        current = self._token
        if current is not None and current.value != refused:
            return current.value  # renewed by another request meanwhile
        if self._running is None:
            if self._clock() - self._forced_at < FORCE_INTERVAL:
                return None
            self._forced_at = self._clock()
        token = await self._shared(force=True)
        return token.value if token.value != refused else None

    async def _shared(self, *, force: bool) -> Token:
        """The outcome of the fetch under way, else of a new one (unless backing off)."""
        if self._running is None:
            if self._failure is not None and self._clock() < self._retry_at:
                wait = self._retry_at - self._clock()
                what, newline, next_step = str(self._failure).partition("\n")
                raise self._failure.reworded(
                    f"{what} (next try in {wait:.0f} s){newline}{next_step}"
                )
            running = asyncio.ensure_future(self._run(force=force))
            # Read the outcome even when every waiter was cancelled (a client left).
            running.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._running = running
        # A waiter that is cancelled must not cancel the fetch the others wait for.
        return await asyncio.shield(self._running)

    async def _run(self, *, force: bool) -> Token:
        self.fetches += 1
        self._console.debug("getting a new token" + (" (IAP refused the last one)" * force))
        try:
            token = await _in_thread(self._fetch, force)
        except LoginNeeded as exc:
            if not self._told_login:
                self._told_login = True
                self._console.say(f"flyte-iap: {exc}")
            raise
        except FlyteIapError as exc:
            self._failures += 1
            wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
            self._failure, self._retry_at = exc, self._clock() + wait
            self._console.debug(f"no token ({exc}); the next fetch in {wait:g} s at the earliest")
            raise
        finally:
            self._running = None
        self._told_login = False
        self._failure, self._failures = None, 0
        self._token = token
        return token


async def _in_thread(fetch: Fetch, force: bool) -> Token:
    """``fetch(force)`` in a daemon thread: a fetch still waiting on the network when the
    proxy stops must not hold the process past its drain (the default executor's threads
    are joined at exit)."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[Token] = loop.create_future()

    def deliver(settle: Callable[[Any], None], value: object) -> None:
        def now() -> None:
            if not outcome.done():  # the waiting request was cancelled
                settle(value)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(now)

    def run() -> None:
        try:
            token = fetch(force)
        except BaseException as exc:  # handed to the waiting request, whatever it is
            deliver(outcome.set_exception, exc)
        else:
            deliver(outcome.set_result, token)

    threading.Thread(target=run, name="flyte-iap token", daemon=True).start()
    return await outcome


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
            entry = get_service_account_token(sa.renewing() if force else sa, _afresh(services))
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
            entry = get_user_token(asked, _afresh(services), store, silent_ui)
        except LoginError:
            raise LoginNeeded(
                f"the login is no longer valid (revoked or expired): run `{request.login_command}` "
                "in a terminal; until then the proxy answers 401"
            ) from None
        return Token(entry.id_token, entry.expiry)

    return first, later


def _afresh(services: Services) -> Services:
    """``services`` whose HTTP client starts a budget of its own (same session, same
    settings): the budget bounds one command's calls, and for the proxy a fetch is one."""
    return services.with_http(services.http.fresh())
