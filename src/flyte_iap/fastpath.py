"""The cached-token fast path: answer from the cache before importing click.

Every `pyflyte` request may run ``proxyCommand``; when the cache holds a
valid token this returns it with only ``os``, ``json`` and ``time`` loaded.
Anything unusual (``--help``, an unknown option, ``--verbose``, a miss)
returns None and the full command line takes over.
"""

from __future__ import annotations

import os

from flyte_iap.cache import TokenCache, default_cache_dir, is_fresh
from flyte_iap.lookup import service_account_names, user_entry_name
from flyte_iap.options import COMMANDS, REFRESH_MARGIN, USER_TOKEN_COMMAND, parse_simple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def cached_token(args: list[str], env: Mapping[str, str] | None = None) -> str | None:
    """The token to print if ``args`` asks for one that is cached and fresh."""
    if not args or args[0] not in COMMANDS:
        return None
    values = parse_simple(args[1:], COMMANDS[args[0]])
    if values is None or values.get("verbose"):
        return None
    env = os.environ if env is None else env
    try:
        margin = float(values.get("refresh_margin", REFRESH_MARGIN.default or ""))
    except ValueError:
        return None
    if margin < 0:
        return None
    cache = TokenCache(default_cache_dir(env))
    name: str | None
    if args[0] == USER_TOKEN_COMMAND:
        name = user_entry_name(str(values["desktop_client_id"]), str(values["webapp_client_id"]))
    else:
        name, _ = service_account_names(
            str(values["webapp_client_id"]),
            _text(values.get("service_account_key")),
            _text(values.get("impersonate_service_account")),
            env,
            cache,
        )
    entry = cache.load(name) if name else None
    if entry is None or not is_fresh(entry, margin):
        return None
    return str(entry["id_token"])


def _text(value: str | bool | None) -> str | None:
    return value if isinstance(value, str) else None
