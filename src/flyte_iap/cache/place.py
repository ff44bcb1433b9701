"""Where the cache is (:func:`default_cache_dir`), where the entries of a cache directory
live, and whom that directory is trusted by.

The directory asked for is used as it is when it is this user's and nobody else can
write it. Otherwise it is never chmod-ed (it may be ``/tmp``, or a directory another
user shares): the entries go to a private ``flyte-iap-UID`` made in it, and when even
that one is not this user's alone (a symbolic link, another owner, open modes) the
cache is refused. Standard library only: on the fast path.
"""

from __future__ import annotations

import os
import sys

from flyte_iap.files import NotTrusted, directory_problem, euid

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def default_cache_dir(env: Mapping[str, str]) -> str:
    """``FLYTE_IAP_CACHE_DIR``, else ``$XDG_CACHE_HOME/flyte-iap``, else ``~/.cache/flyte-iap``.

    On Windows the fallback is ``%LOCALAPPDATA%\\flyte-iap\\cache``. A relative
    ``FLYTE_IAP_CACHE_DIR`` is a UsageError: the cache would follow the working
    directory of whoever runs the command.
    """
    explicit = env.get("FLYTE_IAP_CACHE_DIR")
    if explicit:
        path = os.path.expanduser(explicit)
        if not os.path.isabs(path):
            from flyte_iap.errors import UsageError

            raise UsageError(
                f"FLYTE_IAP_CACHE_DIR is {explicit!r}: give an absolute path (like "
                "~/.cache/flyte-iap), or unset it"
            )
        return path
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "flyte-iap", "cache")
    xdg = env.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "flyte-iap")
    return os.path.join(os.path.expanduser("~"), ".cache", "flyte-iap")


def entries_directory(requested: str, *, create: bool) -> str:
    """The directory the entries are in, made (0700) if ``create``; an OSError when
    there is none yet, or :class:`NotTrusted` when neither ``requested`` nor its private
    subdirectory is this user's alone."""
    problem = _checked(requested, private=False, create=create)
    if problem is None:
        return requested
    place = os.path.join(requested, f"flyte-iap-{euid()}")
    refused = _checked(place, private=True, create=create)
    if refused is not None:
        raise NotTrusted(
            place, f"{requested} is not yours alone ({problem}), nor is {place} ({refused})"
        )
    return place


def planned_directory(requested: str) -> str:
    """Where the entries will go, making nothing: ``requested``, or its private
    subdirectory when ``requested`` is there but not this user's alone."""
    try:
        shared = directory_problem(requested, private=False) is not None
    except OSError:  # not there yet: it will be made, ours alone
        shared = False
    return os.path.join(requested, f"flyte-iap-{euid()}") if shared else requested


def _checked(path: str, *, private: bool, create: bool) -> str | None:
    """What is wrong with the directory ``path`` (None: nothing), made first if asked."""
    try:
        return directory_problem(path, private=private)
    except FileNotFoundError:
        if not create:
            raise
    if private:
        os.mkdir(path, 0o700)
    else:
        os.makedirs(path, mode=0o700, exist_ok=True)
    return directory_problem(path, private=private)


# A write takes milliseconds: a temp file this old was left by a process that died.
_STALE_TEMP_AGE = 60.0


def sweep_stale_temp_files(place: str) -> None:
    """Remove ``.NAME.XXXX.tmp`` files left by killed writers (they may hold secrets)."""
    import stat
    import time

    cutoff = time.time() - _STALE_TEMP_AGE
    try:
        files = os.listdir(place)
    except OSError:
        return
    for file in files:
        if not (file.startswith(".") and file.endswith(".tmp")):
            continue
        path = os.path.join(place, file)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
            remove_quietly(path)


def remove_quietly(path: str) -> None:
    try:  # noqa: SIM105 - contextlib would cost the fast path an import
        os.remove(path)
    except OSError:
        pass
