"""Which cache entry answers a request, and whether it is fresh: no network, no heavy imports.

Used by the fast path before click is even imported, and by the use cases
before and after they take the cache lock: keeping it here is what lets
both agree.
"""

from __future__ import annotations

import os

from flyte_iap.cache.entry import (
    entry_name,
    metadata_lock_name,
    service_account_entry_name,
    user_entry_name,
)
from flyte_iap.google.adc import principal_of, read_info, source_id, well_known_adc_path

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
    account its key file names, or the account this machine's metadata server answered
    for before; and always by the credentials that obtain it (``adc.source_id``).

    The credentials are those ``_plan`` of the use case will use: the key option, else
    GOOGLE_APPLICATION_CREDENTIALS, else (to impersonate) gcloud's ADC, else the
    metadata server. A file that cannot be read names no entry: the use case says why.
    """
    path = key_path if key_path is not None else env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path and impersonate:
        adc = well_known_adc_path(env)
        path = adc if os.path.isfile(adc) else None
    if path:
        info = read_info(path)
        lock = entry_name("sa-file", os.path.abspath(path), audience)
        if info is None:
            return CacheKey(None, lock)
        via = source_id(info, env)
        principal = impersonate or principal_of(info)
        if not principal:  # a file that names no account: its path stands in, for the lock
            return CacheKey(None, lock)
        name = service_account_entry_name(principal, audience, via)
        return CacheKey(name, name)
    via = source_id(None, env)
    if impersonate:
        name = service_account_entry_name(impersonate, audience, via)
        return CacheKey(name, name)
    email = cache.metadata_email(via)
    lock = metadata_lock_name(via, audience)
    return CacheKey(service_account_entry_name(email, audience, via) if email else None, lock)


def fresh_entry(cache: TokenCache, name: str | None, margin: float, now: float) -> Entry | None:
    """The cached entry ``name`` if it has more than ``margin`` seconds left at ``now``."""
    entry = cache.load(name) if name else None
    return entry if entry is not None and entry.is_fresh(margin, now) else None
