"""The cached-token fast path: answer from the cache before importing click.

Every ``pyflyte`` request may run ``proxyCommand``; when the cache holds a
valid token this returns it with only ``os``, ``json`` and ``time`` loaded.
Anything unusual (``--help``, an unknown option, ``--verbose``, a miss)
returns None and the full command line takes over.

The light modules are imported by their own path, not through a package face
(docs/design.md, "Speed"): the import contract then sees each one the fast path loads.
"""

from __future__ import annotations

import os
import time

from flyte_iap.cache.place import default_cache_dir
from flyte_iap.cache.store import TokenCache
from flyte_iap.cli.options import TOKEN_COMMANDS, parse_simple, token_request
from flyte_iap.errors import UsageError
from flyte_iap.tokens.request import ServiceAccountRequest, fresh_entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def cached_token(
    args: list[str],
    env: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> str | None:
    """The token to print if ``args`` asks for one that is cached and fresh."""
    if not args or args[0] not in TOKEN_COMMANDS:
        return None
    values = parse_simple(args[1:], TOKEN_COMMANDS[args[0]])
    if values is None or values.get("verbose") or values.get("service_account_key") == "":
        return None
    env = os.environ if env is None else env
    cache = TokenCache(default_cache_dir(env))
    try:
        request = token_request(args[0], values)
    except UsageError:  # a value the request refuses: the full command line says why
        return None
    if isinstance(request, ServiceAccountRequest):
        key = request.cache_key(env, cache)
    else:
        key = request.cache_key()
    entry = fresh_entry(cache, key.name, request.refresh_margin, clock())
    return entry.id_token if entry is not None else None
