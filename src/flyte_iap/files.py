"""Reading small files and trusting directories that someone else may have planted.

A cache entry or a key file is a few KiB. Whatever the path names instead (a FIFO,
``/dev/zero``, a symbolic link another user placed, a file of another user) must
neither hang the command, nor fill its memory, nor be believed. So a file is opened
with ``O_NONBLOCK`` (opening a FIFO does not wait for a writer), checked with
``fstat`` on the open descriptor (no swap between the check and the read: a regular
file, of at most ``limit`` bytes) and read at most ``limit + 1`` bytes.

POSIX only for owners and modes: on Windows a user's profile directory is private
by default, and ``st_uid`` / ``st_mode`` carry no such meaning.

Standard library ``os``, ``stat`` and ``sys`` only: the cached-token fast path uses it.
"""

from __future__ import annotations

import os
import stat
import sys

#: A cache entry or a credentials file is a few KiB; anything far larger is not one.
SMALL_FILE_LIMIT = 64 * 1024

_POSIX = sys.platform != "win32"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class NotTrusted(OSError):
    """A path that exists but is not what it must be; ``strerror`` says why, for a message."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(0, reason, path)


def euid() -> int | None:
    """This process's effective user id; None where there is none (Windows)."""
    return os.geteuid() if _POSIX else None


def read_small_file(path: str, *, private: bool = False, limit: int = SMALL_FILE_LIMIT) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit`` of them).

    ``private`` (a cache entry): the path itself must not be a symbolic link, and the
    file must belong to this user and be neither readable nor writable by group or
    others. Symbolic links are followed otherwise: a key file mounted from a Kubernetes
    secret is one.

    Raises FileNotFoundError, IsADirectoryError and other OSErrors of ``open``, or
    :class:`NotTrusted` saying what is wrong with what is there.
    """
    flags = os.O_RDONLY | _NONBLOCK | _BINARY | (_NOFOLLOW if private else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if private and _NOFOLLOW and os.path.islink(path):
            raise NotTrusted(path, "it is a symbolic link") from exc
        raise
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", path)
        if not stat.S_ISREG(info.st_mode):
            raise NotTrusted(path, "it is not a regular file")
        if info.st_size > limit:
            raise NotTrusted(path, f"it is larger than {limit // 1024} KiB")
        if private:
            problem = _private_problem(info)
            if problem:
                raise NotTrusted(path, problem)
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while we read
            raise NotTrusted(path, f"it is larger than {limit // 1024} KiB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def directory_problem(path: str, *, private: bool) -> str | None:
    """Why the directory ``path`` cannot hold our tokens, or None when it can.

    It must be a directory of this user that neither group nor others can write (they
    could plant or swap entries). ``private``: also not a symbolic link and not
    readable by them (a directory this tool made for itself). Raises
    FileNotFoundError when there is nothing at ``path``.
    """
    info = os.lstat(path) if private else os.stat(path)
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if not _POSIX:
        return None
    if info.st_uid != os.geteuid():
        return f"it belongs to uid {info.st_uid}, not to you (uid {os.geteuid()})"
    if info.st_mode & (0o077 if private else 0o022):
        return f"others can {'read or write' if private else 'write'} it (mode {_mode(info)})"
    return None


def _private_problem(info: os.stat_result) -> str | None:
    if not _POSIX:
        return None
    if info.st_uid != os.geteuid():
        return f"it belongs to uid {info.st_uid}, not to you"
    if info.st_mode & 0o077:
        return f"group or others can read or write it (mode {_mode(info)})"
    return None


def _mode(info: os.stat_result) -> str:
    return format(stat.S_IMODE(info.st_mode), "04o")
