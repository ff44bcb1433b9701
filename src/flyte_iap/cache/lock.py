"""An exclusive inter-process lock on a file, for one cache identity.

The only platform-specific code of the cache: ``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows (docs/design.md, "Platforms").

A lock that cannot be had at all (a read-only directory, a lock path that is a
directory, a FIFO or a symbolic link someone planted) is not a reason to fail the
command: ``on_error`` hears why and the holder goes on unlocked. Only waiting too
long for another process is an error.
"""

from __future__ import annotations

import os
import stat
import sys
import time

from flyte_iap.errors import CacheError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class FileLock:
    """Held between ``__enter__`` and ``__exit__``; waited for up to ``timeout`` seconds."""

    def __init__(
        self,
        path: str,
        timeout: float,
        poll: float = 0.05,
        on_error: Callable[[OSError], None] | None = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.poll = poll
        self.on_error = on_error
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        try:
            fd = _open(self.path)
        except OSError as exc:
            if self.on_error is None:
                raise
            self.on_error(exc)
            return self
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


def _open(path: str) -> int:
    """The lock file, opened without following a link or blocking on a FIFO."""
    try:
        fd = os.open(path, _FLAGS, 0o600)
    except OSError as exc:
        if os.path.islink(path):
            raise OSError(exc.errno, "it is a symbolic link", path) from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(0, "it is not a regular file", path)
    return fd


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
