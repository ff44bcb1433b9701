"""The state directory of ``flyte-iap emulator``: where its key and ADC files go.

Those files hold private keys and refresh tokens, and the README's own example puts
the directory under /tmp. So it is the user's own and private: a new one is created
0700; an existing one owned by another user, or writable by group or others, is
refused rather than written into (or chmod-ed: it is not ours to change).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path


class StateDirError(Exception):
    """The state directory cannot be used safely; the message names it and says why."""


def prepare_state_dir(path: Path) -> Path:
    """Create ``path`` with mode 0700 (its parents as ``mkdir -p`` would), or check the
    existing directory; :class:`StateDirError` when it is not safe to write into."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StateDirError(f"{str(path)!r}: {exc.strerror or exc}") from exc
    else:
        os.chmod(path, 0o700)  # ours, just made: the umask may have left it otherwise
    _check(path)
    return path


def _check(path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - no owners or mode bits to check
        return
    shown = repr(str(path))
    uid = os.geteuid()
    try:
        link, info = os.lstat(path), os.stat(path)
    except OSError as exc:
        raise StateDirError(f"{shown}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in (uid, 0):
        raise StateDirError(
            f"{shown} is a symbolic link owned by uid {link.st_uid}, not by you (uid {uid}); "
            "choose a directory of your own"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"{shown} is not a directory")
    if info.st_uid != uid:
        raise StateDirError(
            f"{shown} is owned by uid {info.st_uid}, not by you (uid {uid}): its owner could "
            "read or replace the key files; choose a directory of your own"
        )
    if info.st_mode & 0o022:
        raise StateDirError(
            f"{shown} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            "chmod it 700 or choose another directory"
        )
