"""Where a person's login is kept: the ID token in the file cache, the refresh
token and client secret beside it, or (``--cache keyring``) in the OS keyring.

Headless Linux and CI have no keyring backend: asking for one there falls
back to the file cache with a warning rather than failing the command.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from flyte_iap.cache import TokenCache

KEYRING_SERVICE = "flyte-iap"
SECRET_FIELDS = ("refresh_token", "client_secret")


class UserStore:
    """Loads and saves one person's entry, secrets included, from file or keyring."""

    def __init__(self, cache: TokenCache, backend: str, warn: Callable[[str], None]) -> None:
        self.cache = cache
        self._warn = warn
        self._keyring: Any = _keyring_module(warn) if backend == "keyring" else None

    def load(self, name: str) -> dict[str, Any] | None:
        entry = self.cache.load(name)
        if entry is None or entry.get("secrets_in") != "keyring":
            return entry
        secrets = self._keyring_get(name)
        return {**entry, **secrets}

    def save(self, name: str, entry: dict[str, Any]) -> None:
        secrets = {k: entry[k] for k in SECRET_FIELDS if entry.get(k)}
        public = {k: v for k, v in entry.items() if k not in SECRET_FIELDS and k != "secrets_in"}
        if self._keyring is not None and secrets and self._keyring_set(name, secrets):
            self.cache.store(name, {**public, "secrets_in": "keyring"})
        else:
            self.cache.store(name, {**public, **secrets})

    def delete(self, name: str) -> bool:
        entry = self.cache.load(name)
        if entry is not None and entry.get("secrets_in") == "keyring":
            module = self._keyring or _keyring_module(self._warn)
            if module is not None:
                # Already gone, or the backend refuses: either way nothing is left to keep.
                with contextlib.suppress(Exception):
                    module.delete_password(KEYRING_SERVICE, name)
        return self.cache.delete(name)

    def _keyring_get(self, name: str) -> dict[str, str]:
        module = self._keyring or _keyring_module(self._warn)
        if module is None:
            return {}
        try:
            raw = module.get_password(KEYRING_SERVICE, name)
            value = json.loads(raw) if raw else {}
        except Exception as exc:  # any backend failure means: no refresh token to use
            self._warn(f"warning: could not read the OS keyring ({type(exc).__name__})")
            return {}
        return (
            {k: str(v) for k, v in value.items() if k in SECRET_FIELDS}
            if isinstance(value, dict)
            else {}
        )

    def _keyring_set(self, name: str, secrets: dict[str, str]) -> bool:
        try:
            self._keyring.set_password(KEYRING_SERVICE, name, json.dumps(secrets))
        except Exception as exc:
            self._warn(
                f"warning: could not write the OS keyring ({type(exc).__name__}); keeping the "
                f"refresh token in the file cache {self.cache.directory}"
            )
            return False
        return True


def _keyring_module(warn: Callable[[str], None]) -> Any:
    """The keyring module if it has a usable backend, else None (with a warning)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        warn(
            "warning: --cache keyring needs the keyring package "
            "(pip install 'flyte-iap[keyring]'); using the file cache"
        )
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        warn("warning: no OS keyring backend on this machine; using the file cache")
        return None
    return keyring
