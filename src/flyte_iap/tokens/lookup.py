"""Which cache entry answers a request, and whether it is fresh: no network, no heavy imports.

Used by the fast path before click is even imported, and by the use cases
before and after they take the cache lock: keeping it here is what lets
both agree.
"""

from __future__ import annotations

import os

from flyte_iap.cache.entry import (
    metadata_lock_name,
    service_account_entry_name,
    user_entry_name,
)
from flyte_iap.google.adc import metadata_host, principal_of_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_iap.cache.entry import Entry
    from flyte_iap.cache.store import TokenCache


class CacheKey:
    """The entry a request is answered from (``name``; None while the principal is not
    known without asking the network), and the lock that concurrent requests share."""

    __slots__ = ("lock", "name")

    def __init__(self, name: str | None, lock: str) -> None:
        self.name = name
        self.lock = lock


def user_key(desktop_client_id: str, audience: str) -> CacheKey:
    name = user_entry_name(desktop_client_id, audience)
    return CacheKey(name, name)


def service_account_key(
    audience: str,
    key_path: str | None,
    impersonate: str | None,
    env: Mapping[str, str],
    cache: TokenCache,
) -> CacheKey:
    """The entry of a service-account token: by the account the request names, the
    account its key file names, or the account the metadata server answered for before."""
    if impersonate:
        name = service_account_entry_name(impersonate, audience)
        return CacheKey(name, name)
    path = key_path or env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        principal = principal_of_file(path)
        if principal:
            name = service_account_entry_name(principal, audience)
            return CacheKey(name, name)
        # A file that names no account: its path stands in, for the lock only.
        return CacheKey(None, service_account_entry_name(os.path.abspath(path), audience))
    host = metadata_host(env)
    email = cache.metadata_email(host)
    lock = metadata_lock_name(host, audience)
    return CacheKey(service_account_entry_name(email, audience) if email else None, lock)


def fresh_entry(cache: TokenCache, name: str | None, margin: float, now: float) -> Entry | None:
    """The cached entry ``name`` if it has more than ``margin`` seconds left at ``now``."""
    entry = cache.load(name) if name else None
    return entry if entry is not None and entry.is_fresh(margin, now) else None
