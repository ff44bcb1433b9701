"""The token cache directory: entries read and written atomically, and their locks.

On the cached-token fast path: only ``os`` at module level, and entries read by
:mod:`flyte_iap.flatjson` (``json`` only for what it does not read, and to write)
(no pathlib, dataclasses or typing: each costs milliseconds that a ``pyflyte``
call pays on every request).

Layout (docs/design.md, "Cache"): the directory is 0700, entries are 0600 and are
replaced with temp file + rename, so a reader never sees half an entry and needs
no lock. Writers take a per-identity lock file so that N processes started at
once make one network fetch between them. An unreadable or corrupt entry reads
as absent and is replaced by the next write.
"""

from __future__ import annotations

import os

from flyte_iap.cache.entry import entry_from_record
from flyte_iap.cache.names import metadata_alias_name
from flyte_iap.cache.place import (
    entries_directory,
    planned_directory,
    remove_quietly,
    sweep_stale_temp_files,
)
from flyte_iap.files import NotTrusted, read_small_file
from flyte_iap.flatjson import loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from flyte_iap.cache.entry import Entry
    from flyte_iap.cache.lock import FileLock, NoLock

ENTRY_VERSION = 1


class TokenCache:
    """Entries in one directory; every method tolerates a missing directory.

    Trust (docs/design.md, "Cache"): the directory must belong to this user and be
    writable by nobody else, and an entry must be a regular file of this user that
    nobody else can read or write (``flyte_iap.files``). A directory that fails this
    (``FLYTE_IAP_CACHE_DIR=/tmp``, a directory another user made, a group-writable
    one) is never chmod-ed: entries go to a private subdirectory ``flyte-iap-UID``
    made in it, and when even that one is not ours the cache is not used. An entry
    that fails it reads as absent and is replaced by the next write.

    ``warn`` hears, once each, that the directory cannot be written or that something
    in it is not trusted: the token is then printed uncached rather than the command
    failing.
    """

    def __init__(self, directory: str, warn: Callable[[str], None] | None = None) -> None:
        self.requested = directory
        self._warn = warn or (lambda message: None)
        self._warned: set[str] = set()
        self._place: str | None = None

    @property
    def directory(self) -> str:
        """Where the entries are (or will be): the directory asked for, or its private
        subdirectory when that one is shared."""
        try:
            return self._where(create=False)
        except OSError:
            return self._place or planned_directory(self.requested)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name + ".json")

    # --- typed entries --------------------------------------------------------------------
    def load(self, name: str) -> Entry | None:
        """The entry, or None when it is absent, unreadable, corrupt, untrusted or of no
        known kind.

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

    def metadata_email(self, via: str) -> str | None:
        """The account this machine's metadata server answered for last time, if known."""
        record = self.read(metadata_alias_name(via))
        email = record.get("email") if record else None
        return email if isinstance(email, str) and email else None

    def remember_metadata_email(self, via: str, email: str) -> None:
        self.write(metadata_alias_name(via), {"email": email})

    # --- records ----------------------------------------------------------------------------
    def read(self, name: str) -> dict[str, object] | None:
        """The JSON object in an entry file, or None if absent, corrupt, untrusted or of
        another version (too deeply nested JSON included)."""
        try:
            place = self._where(create=False)
        except NotTrusted as exc:
            self._warn_once(f"warning: not using the token cache: {exc.strerror}")
            return None
        except OSError:
            return None
        path = os.path.join(place, name + ".json")
        try:
            raw = read_small_file(path, private=True)
            record: object = loads(raw)
            if record is None:  # not one flatjson reads: json says what it is
                import json

                record = json.loads(raw)
        except NotTrusted as exc:
            self._warn_once(
                f"warning: not using the cached token {path}: {exc.strerror}; it will be replaced"
            )
            return None
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(record, dict) or record.get("v") != ENTRY_VERSION:
            return None
        return record

    def write(self, name: str, record: Mapping[str, object]) -> bool:
        """Write ``record`` atomically; on failure warn once and return False."""
        import json

        data = json.dumps({"v": ENTRY_VERSION, **record}, indent=1, sort_keys=True)
        try:
            place = self._where(create=True)
            fd, tmp = _create_temp(place, name)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, os.path.join(place, name + ".json"))
            except BaseException:
                remove_quietly(tmp)
                raise
        except OSError as exc:
            self._unwritable(exc)
            return False
        sweep_stale_temp_files(place)
        return True

    def delete(self, name: str) -> bool:
        """Remove an entry; True if there was one. A CacheError if it cannot be removed."""
        path = self.path(name)
        try:
            os.remove(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            from flyte_iap.errors import CacheError

            raise CacheError(
                f"cannot remove {path} ({exc.strerror or type(exc).__name__}); remove it by hand"
            ) from exc
        return True

    def lock(self, name: str, timeout: float) -> FileLock | NoLock:
        """A lock for one identity; a no-op lock (with a warning) if none can be had:
        an unwritable directory, a lock path that is a directory or a link."""
        from flyte_iap.cache.lock import FileLock, NoLock

        try:
            place = self._where(create=True)
        except OSError as exc:
            self._unwritable(exc)
            return NoLock()
        return FileLock(os.path.join(place, name + ".lock"), timeout, on_error=self._no_lock)

    def _names(self) -> Iterator[str]:
        try:
            files = sorted(os.listdir(self._where(create=False)))
        except OSError:
            return
        for file in files:
            if file.endswith(".json") and not file.startswith("."):
                yield file[: -len(".json")]

    def _where(self, *, create: bool) -> str:
        """The directory the entries are in, made (0700) if ``create``; an OSError when
        there is none yet, or :class:`NotTrusted` when neither it nor its private
        subdirectory is this user's alone."""
        if self._place is None:
            self._place = entries_directory(self.requested, create=create)
        return self._place

    def _no_lock(self, exc: OSError) -> None:
        reason = exc.strerror or type(exc).__name__
        self._warn_once(
            f"warning: cannot take the lock {exc.filename or ''} ({reason}); going on without "
            "it: several flyte-iap processes may fetch at once"
        )

    def _unwritable(self, exc: OSError) -> None:
        reason = exc.strerror or type(exc).__name__
        self._warn_once(
            f"warning: cannot write the token cache in {self.requested} ({reason}); "
            "the token is not cached. Set FLYTE_IAP_CACHE_DIR to a directory of your own."
        )

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._warn(message)


#: How ``os.open`` makes a writer's temporary file: new (never an existing file or a
#: link someone planted), this user's only, not inherited by child processes.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_TEMP_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _create_temp(place: str, name: str) -> tuple[int, str]:
    """A new 0600 file ``.NAME.XXXXXXXXXXXXXXXX.tmp`` in ``place`` (the name the sweep
    knows) and its descriptor. As ``tempfile.mkstemp`` makes one, without its import
    on a first fetch's path: a random name, created exclusively, another tried if taken."""
    for _ in range(100):
        path = os.path.join(place, f".{name}.{os.urandom(8).hex()}.tmp")
        try:
            return os.open(path, _TEMP_FLAGS, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {place}")
