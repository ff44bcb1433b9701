"""The composition root: every seam a command needs, built from the environment once.

Commands take what they need from here; use cases are handed it (``Services``)
and never read ``os.environ`` or the clock themselves. Tests build a ``Wiring``
with their own environment. Each seam is built, and its modules imported, only when a
command asks for it: ``status`` needs the cache but no HTTP stack, ``decode`` neither.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from functools import cached_property

from flyte_iap.cache import TokenCache, UserStore, default_cache_dir
from flyte_iap.console import Console

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flyte_iap.login import LoginUi
    from flyte_iap.tokens import Services
    from flyte_iap.transport import HttpClient


class Wiring:
    """Built per run; ``verbose`` is set while the command line is parsed."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.clock = clock
        #: How retries wait between tries (backoff).
        self.sleep = sleep
        self.verbose = False

    @cached_property
    def console(self) -> Console:
        return Console(verbose=self.verbose)

    @cached_property
    def cache(self) -> TokenCache:
        return TokenCache(default_cache_dir(self.env), warn=self.console.warn)

    @cached_property
    def http(self) -> HttpClient:
        from flyte_iap.transport import HttpClient, http_timeout

        return HttpClient(
            timeout=http_timeout(self.env), sleep=self.sleep, debug=self.console.debug
        )

    @cached_property
    def services(self) -> Services:
        from flyte_iap.tokens import Services

        return Services(self.env, self.cache, self.http, self.console, self.clock)

    def user_store(self, backend: str) -> UserStore:
        """Where a person's login is kept: ``file`` or ``keyring``."""
        return UserStore(self.cache, backend, self.console.warn)

    def login_ui(self) -> LoginUi:
        from flyte_iap.login import LoginUi, Terminal

        def open_browser(url: str) -> bool:  # webbrowser loads only to open one
            from flyte_iap.login import open_browser as really_open

            return really_open(url)

        return LoginUi(Terminal(), open_browser)
