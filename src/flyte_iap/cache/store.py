"""The token cache directory: entries read and written atomically, and their locks.

On the cached-token fast path: only ``os``, ``sys`` and ``json`` at module level
(no pathlib, dataclasses or typing: each costs milliseconds that a ``pyflyte``
call pays on every request).

Layout (docs/design.md, "Cache"): the directory is 0700, entries are 0600 and are
replaced with temp file + rename, so a reader never sees half an entry and needs
no lock. Writers take a per-identity lock file so that N processes started at
once make one network fetch between them. An unreadable or corrupt entry reads
as absent and is replaced by the next write.
"""

from __future__ import annotations

import json
import os
import sys

from flyte_iap.cache.entry import entry_from_record, metadata_alias_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from flyte_iap.cache.entry import Entry
    from flyte_iap.cache.lock import FileLock, NoLock

ENTRY_VERSION = 1


def default_cache_dir(env: Mapping[str, str]) -> str:
    """``FLYTE_IAP_CACHE_DIR``, else ``$XDG_CACHE_HOME/flyte-iap``, else ``~/.cache/flyte-iap``.

    On Windows the fallback is ``%LOCALAPPDATA%\\flyte-iap\\cache``.
    """
    explicit = env.get("FLYTE_IAP_CACHE_DIR")
    if explicit:
        return os.path.expanduser(explicit)
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "flyte-iap", "cache")
    xdg = env.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "flyte-iap")
    return os.path.join(os.path.expanduser("~"), ".cache", "flyte-iap")


class TokenCache:
    """Entries in one directory; every method tolerates a missing directory.

    ``warn`` hears, once, that the directory cannot be written: the token is then
    printed uncached rather than the command failing.
    """

    def __init__(self, directory: str, warn: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self._warn = warn or (lambda message: None)
        self._warned_unwritable = False

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name + ".json")

    # --- typed entries --------------------------------------------------------------------
    def load(self, name: str) -> Entry | None:
        """The entry, or None when it is absent, unreadable, corrupt or of no known kind.

        An entry is only served from its own file: one whose identity would be stored
        under another name (copied or renamed there) reads as absent.
        """
        record = self.read(name)
        entry = entry_from_record(record) if record is not None else None
        return entry if entry is not None and entry.name == name else None

    def store(self, entry: Entry) -> bool:
        """Write ``entry`` under its own name; on failure warn once and return False."""
        return self.write(entry.name, entry.record())

    def entries(self) -> Iterator[Entry]:
        """Every readable token entry present (not aliases, locks or temp files)."""
        for name in self._names():
            entry = self.load(name)
            if entry is not None:
                yield entry

    def metadata_email(self, host: str) -> str | None:
        """The account a metadata server answered for last time, if remembered."""
        record = self.read(metadata_alias_name(host))
        email = record.get("email") if record else None
        return email if isinstance(email, str) and email else None

    def remember_metadata_email(self, host: str, email: str) -> None:
        self.write(metadata_alias_name(host), {"email": email})

    # --- records ----------------------------------------------------------------------------
    def read(self, name: str) -> dict[str, object] | None:
        """The JSON object in an entry file, or None if absent, corrupt or of another version."""
        try:
            with open(self.path(name), encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("v") != ENTRY_VERSION:
            return None
        return record

    def write(self, name: str, record: Mapping[str, object]) -> bool:
        """Write ``record`` atomically; on failure warn once and return False."""
        import tempfile

        data = json.dumps({"v": ENTRY_VERSION, **record}, indent=1, sort_keys=True)
        try:
            self._ensure_directory()
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path(name))
            except BaseException:
                _remove_quietly(tmp)
                raise
        except OSError as exc:
            self._unwritable(exc)
            return False
        return True

    def delete(self, name: str) -> bool:
        """Remove an entry; True if there was one."""
        try:
            os.remove(self.path(name))
        except FileNotFoundError:
            return False
        return True

    def lock(self, name: str, timeout: float) -> FileLock | NoLock:
        """A lock for one identity; a no-op lock (with a warning) if the dir is unwritable."""
        from flyte_iap.cache.lock import FileLock, NoLock

        try:
            self._ensure_directory()
            return FileLock(os.path.join(self.directory, name + ".lock"), timeout)
        except OSError as exc:
            self._unwritable(exc)
            return NoLock()

    def _names(self) -> Iterator[str]:
        try:
            files = sorted(os.listdir(self.directory))
        except OSError:
            return
        for file in files:
            if file.endswith(".json") and not file.startswith("."):
                yield file[: -len(".json")]

    def _ensure_directory(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        if sys.platform != "win32" and os.stat(self.directory).st_mode & 0o077:
            os.chmod(self.directory, 0o700)

    def _unwritable(self, exc: OSError) -> None:
        if not self._warned_unwritable:
            self._warned_unwritable = True
            reason = exc.strerror or type(exc).__name__
            self._warn(
                f"warning: cannot write the token cache in {self.directory} ({reason}); "
                "the token is not cached. Set FLYTE_IAP_CACHE_DIR to a writable directory."
            )


def _remove_quietly(path: str) -> None:
    try:  # noqa: SIM105 - contextlib would cost the fast path an import
        os.remove(path)
    except OSError:
        pass
