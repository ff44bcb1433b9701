"""An exclusive inter-process lock on a file, for one cache identity.

The only platform-specific code of the cache: ``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows (docs/design.md, "Platforms").
"""

from __future__ import annotations

import os
import sys
import time

from flyte_iap.errors import CacheError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType


class FileLock:
    """Held between ``__enter__`` and ``__exit__``; waited for up to ``timeout`` seconds."""

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
                    f"{self.path} for {self.timeout:g} s; retry, or stop that process"
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


class NoLock:
    """What an unwritable cache directory gives instead of a lock: nothing to hold."""

    def __enter__(self) -> NoLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


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
