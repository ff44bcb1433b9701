"""The token cache: one JSON file per identity (docs/design.md, "Cache").

- :class:`TokenCache` (``store``): entries read and written atomically, their locks
  (``lock``: :class:`FileLock`), the metadata server's account remembered;
- :func:`default_cache_dir` and whom a directory is trusted by (``place``);
- the entries (``entry``): :class:`ServiceAccountEntry`, :class:`UserEntry`, and what
  every file is called (``names``);
- :class:`UserStore` (``keyring_store``): a person's login with its secrets in the file
  or the OS keyring.

Standard library only, and light: the cached-token fast path imports this package
before click or any network module (``keyring`` is imported only for ``--cache
keyring``, the lock's platform module only to lock).
"""

from flyte_iap.cache.entry import Entry, ServiceAccountEntry, UserEntry, entry_from_record
from flyte_iap.cache.keyring_store import UserStore
from flyte_iap.cache.lock import FileLock, NoLock
from flyte_iap.cache.names import (
    entry_name,
    metadata_alias_name,
    metadata_lock_name,
    service_account_entry_name,
    user_entry_name,
)
from flyte_iap.cache.place import default_cache_dir
from flyte_iap.cache.store import TokenCache

__all__ = [
    "Entry",
    "FileLock",
    "NoLock",
    "ServiceAccountEntry",
    "TokenCache",
    "UserEntry",
    "UserStore",
    "default_cache_dir",
    "entry_from_record",
    "entry_name",
    "metadata_alias_name",
    "metadata_lock_name",
    "service_account_entry_name",
    "user_entry_name",
]
