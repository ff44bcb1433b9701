"""The seams every use case is handed, built once by the composition root (``cli.wiring``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flyte_iap.cache import TokenCache
from flyte_iap.console import Console
from flyte_iap.transport import HttpClient


@dataclass(frozen=True)
class Services:
    """The environment (credential files, endpoints), the cache, HTTP, messages, time."""

    env: Mapping[str, str]
    cache: TokenCache
    http: HttpClient
    console: Console
    clock: Callable[[], float]
