"""Fresh or fetch: the one way a token is served from the cache or fetched into it.

lock → load → fresh? → fetch → store. The first look is ``request.fresh_entry``,
which the fast path uses alone; the use cases pass in what differs between them.
"""

from __future__ import annotations

from flyte_iap.tokens.request import fresh_entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from flyte_iap.cache import Entry, TokenCache
    from flyte_iap.tokens.request import CacheKey

    Fetch = Callable[[Entry | None], Entry]


def fresh_or_fetch(
    cache: TokenCache,
    key: Callable[[], CacheKey],
    *,
    margin: float,
    clock: Callable[[], float],
    wait: float,
    plan: Callable[[], Fetch],
    load: Callable[[str], Entry | None] | None = None,
    save: Callable[[Entry], object] | None = None,
    force: bool = False,
    debug: Callable[[str], None] = lambda message: None,
) -> Entry:
    """A fresh cached entry, else one fetched under the identity's lock and stored.

    ``key`` names the entry and its lock; it is asked again under the lock, as the
    process that held it may have learnt the principal meanwhile. ``plan`` runs once
    the cache has missed, before the lock: it checks the input and reads files (no
    network) and returns the fetch, which runs under the lock with what the cache
    holds then. ``load`` and ``save`` default to the file cache (a person's login
    keeps its secrets elsewhere). An entry the fetch hands back unchanged is not
    written again. ``force`` skips both looks at the cache (``login``).
    """
    first = key()
    if not force:
        entry = fresh_entry(cache, first.name, margin, clock())
        if entry is not None:
            debug(f"using the cached token {cache.path(entry.name)}")
            return entry
    fetch = plan()
    with cache.lock(first.lock, wait):
        name = key().name
        current = (load or cache.load)(name) if name else None
        if not force and current is not None and current.is_fresh(margin, clock()):
            debug(f"another process fetched it meanwhile: using {cache.path(current.name)}")
            return current
        entry = fetch(current)
        if entry is not current:
            (save or cache.store)(entry)
        return entry
