"""The token cache: one JSON file per identity, written atomically.

This module is on the cached-token fast path, so it imports only ``os``,
``sys``, ``json`` and ``time`` at module level (no pathlib, dataclasses or
typing: each costs milliseconds that a `pyflyte` call pays on every request).

Layout (SPEC §3): the directory is 0700, entries are 0600 and are replaced
with temp file + rename, so a reader never sees half an entry and needs no
lock. Writers take a per-identity lock file so that N processes started at
once make one network fetch between them. An unreadable or corrupt entry
reads as absent and is replaced by the next write.
"""

from __future__ import annotations

import json
import os
import sys
import time

from flyte_iap.errors import CacheError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import TracebackType

ENTRY_VERSION = 1
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.@-")


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


def entry_name(kind: str, *parts: str) -> str:
    """A readable, unambiguous file name for an identity, e.g. ``sa_ci@p.iam…_aud``.

    Characters outside ``[A-Za-z0-9.@-]`` are %-escaped (``_`` too, as it is the
    separator). Very long names fall back to a digest.
    """
    escaped = ["".join(c if c in _SAFE else f"%{ord(c):02X}" for c in part) for part in parts]
    name = "_".join([kind, *escaped])
    if len(name) > 180:
        import hashlib

        name = f"{kind}_{hashlib.sha256(name.encode()).hexdigest()[:40]}"
    return name


def is_fresh(entry: Mapping[str, object] | None, margin: float, now: float | None = None) -> bool:
    """True if ``entry`` holds an ID token with more than ``margin`` seconds left."""
    if not entry:
        return False
    expiry = entry.get("expiry")
    token = entry.get("id_token")
    if not isinstance(expiry, int | float) or not isinstance(token, str) or not token:
        return False
    return expiry - margin > (time.time() if now is None else now)


class TokenCache:
    """Entries in one directory; every method tolerates a missing directory."""

    def __init__(self, directory: str, warn: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self._warn = warn or (lambda message: None)
        self._warned_unwritable = False

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name + ".json")

    def load(self, name: str) -> dict[str, object] | None:
        """The entry, or None when it is absent, unreadable, corrupt or from another version."""
        try:
            with open(self.path(name), encoding="utf-8") as f:
                entry = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("v") != ENTRY_VERSION:
            return None
        return entry

    def store(self, name: str, entry: Mapping[str, object]) -> bool:
        """Write ``entry`` atomically; on failure warn once and return False."""
        import tempfile

        data = json.dumps({"v": ENTRY_VERSION, **entry}, indent=1, sort_keys=True)
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

    def names(self) -> Iterator[str]:
        """Names of the entries present (not locks or temp files)."""
        try:
            files = sorted(os.listdir(self.directory))
        except OSError:
            return
        for file in files:
            if file.endswith(".json") and not file.startswith("."):
                yield file[: -len(".json")]

    def lock(self, name: str, timeout: float) -> FileLock | _NoLock:
        """A lock for one identity; a no-op lock (with a warning) if the dir is unwritable."""
        try:
            self._ensure_directory()
            return FileLock(os.path.join(self.directory, name + ".lock"), timeout)
        except OSError as exc:
            self._unwritable(exc)
            return _NoLock()

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


class FileLock:
    """An exclusive inter-process lock on a file, waited for up to ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float, poll: float = 0.05) -> None:
        self.path = path
        self.timeout = timeout
        self.poll = poll
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise CacheError(
                    f"could not lock the token cache: another flyte-iap process has held "
                    f"{self.path} for {self.timeout:.0f} s; retry, or stop that process"
                )
            time.sleep(self.poll)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None


class _NoLock:
    def __enter__(self) -> _NoLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def _remove_quietly(path: str) -> None:
    try:  # noqa: SIM105 - contextlib would cost the fast path an import
        os.remove(path)
    except OSError:
        pass


# The only platform-specific code of the cache: a non-blocking exclusive lock.
if sys.platform == "win32":  # pragma: no cover - exercised on Windows only

    def _try_lock(fd: int) -> bool:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
