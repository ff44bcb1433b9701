"""Where a person's login is kept: the ID token in the file cache, the refresh
token and client secret beside it, or (``--cache keyring``) in the OS keyring.

Headless Linux and CI have no keyring backend: asking for one there falls
back to the file cache with a warning rather than failing the command.
"""

from __future__ import annotations

from flyte_iap.cache.entry import SECRET_FIELDS, UserEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from flyte_iap.cache.store import TokenCache

KEYRING_SERVICE = "flyte-iap"
IN_KEYRING = "keyring"


class UserStore:
    """Loads and saves a person's entries, secrets included, from the file or the keyring."""

    def __init__(self, cache: TokenCache, backend: str, warn: Callable[[str], None]) -> None:
        self.cache = cache
        self._warn = warn
        self._keyring: Any = _keyring_module(warn) if backend == "keyring" else None

    def load(self, name: str) -> UserEntry | None:
        """The entry with its secrets, wherever they are kept."""
        entry = self.cache.load(name)
        if not isinstance(entry, UserEntry):
            return None
        if entry.secrets_in != IN_KEYRING:
            return entry
        secrets = self._keyring_get(name)
        return entry.with_secrets(
            refresh_token=secrets.get("refresh_token", ""),
            client_secret=secrets.get("client_secret", ""),
        )

    def save(self, entry: UserEntry) -> None:
        """Write the entry: its secrets to the keyring when asked for and it works."""
        secrets = entry.secrets()
        public = entry.public_record()
        if self._keyring is not None and secrets and self._keyring_set(entry.name, secrets):
            self.cache.write(entry.name, {**public, "secrets_in": IN_KEYRING})
        else:
            self.cache.write(entry.name, {**public, **secrets})

    def delete(self, name: str) -> bool:
        """Remove the entry and its keyring secrets; True if there was an entry."""
        entry = self.cache.load(name)
        if isinstance(entry, UserEntry) and entry.secrets_in == IN_KEYRING:
            module = self._keyring or _keyring_module(self._warn)
            if module is not None:
                # Already gone, or the backend refuses: either way nothing is left to keep.
                import contextlib

                with contextlib.suppress(Exception):
                    module.delete_password(KEYRING_SERVICE, name)
        return self.cache.delete(name)

    def _keyring_get(self, name: str) -> dict[str, str]:
        module = self._keyring or _keyring_module(self._warn)
        if module is None:
            return {}
        try:
            raw = module.get_password(KEYRING_SERVICE, name)
            import json

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
            import json

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
