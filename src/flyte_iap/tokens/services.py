"""The seams every use case is handed, built once by the composition root (``cli.wiring``)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flyte_iap.cache import TokenCache
    from flyte_iap.console import Console
    from flyte_iap.transport import HttpClient


class Services:
    """The environment (credential files, endpoints), the cache, HTTP, messages, time.
    (A plain class, as every seam on a first fetch's path: ``dataclasses`` costs it
    more than the class.)"""

    __slots__ = ("cache", "clock", "console", "env", "http")

    def __init__(
        self,
        env: Mapping[str, str],
        cache: TokenCache,
        http: HttpClient,
        console: Console,
        clock: Callable[[], float],
    ) -> None:
        self.env = env
        self.cache = cache
        self.http = http
        self.console = console
        self.clock = clock

    def with_http(self, http: HttpClient) -> Services:
        """These services with another HTTP client."""
        return Services(self.env, self.cache, http, self.console, self.clock)
