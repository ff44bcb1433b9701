"""The proxy's token: fetched in process by the use cases, one fetch at a time.

Requests ask :meth:`TokenProvider.get`; while the token has more than the margin left
it is answered from memory. Otherwise one request fetches (the use case in a worker
thread, so the event loop keeps serving) and every other one waits for that fetch:
50 requests at once cause one fetch. After an IAP-generated 401 :meth:`renew` gets a
new token once (not again within ``FORCE_INTERVAL``: a token IAP keeps refusing, say
for the wrong audience, must not hammer Google).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple

from flyte_iap.console import Console
from flyte_iap.errors import FlyteIapError

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
