"""The cached-token fast path: answer from the cache before importing click.

Every ``pyflyte`` request may run ``proxyCommand``; when the cache holds a
valid token this returns it with only ``os``, ``json`` and ``time`` loaded.
Anything unusual (``--help``, an unknown option, ``--verbose``, a miss)
returns None and the full command line takes over.
"""

from __future__ import annotations

import os
import time

from flyte_iap.cache.store import TokenCache, default_cache_dir
from flyte_iap.cli.options import TOKEN_COMMANDS, USER_TOKEN_COMMAND, parse_simple
from flyte_iap.tokens.lookup import fresh_entry, service_account_key, user_key

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
    audience = str(values["webapp_client_id"])
    if args[0] == USER_TOKEN_COMMAND:
        key = user_key(str(values["desktop_client_id"]), audience)
    else:
        key = service_account_key(
            audience,
            _text(values.get("service_account_key")),
            _text(values.get("impersonate_service_account")),
            env,
            cache,
        )
    entry = fresh_entry(cache, key.name, float(values["refresh_margin"]), clock())
    return entry.id_token if entry is not None else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
