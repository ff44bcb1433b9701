"""Where a config is (:func:`config_path`) and where it is written, and writing it
atomically with its mode kept.

A symbolic link (``~/.flyte/config.yaml`` kept in a dotfiles repository) is written
through: the file it points to is replaced, the link stays. A link to nothing is
refused rather than guessed at. The new text goes to a temp file in the target's own
directory, is flushed to disk, and renamed over the target, so a reader (a running
``pyflyte``) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from flyte_iap.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def config_path(given: str | None, env: Mapping[str, str]) -> str:
    """``--config``, else FLYTECTL_CONFIG, else ``~/.flyte/config.yaml`` (as flytekit looks)."""
    home = env.get("USERPROFILE" if sys.platform == "win32" else "HOME") or os.path.expanduser("~")
    chosen = given or env.get("FLYTECTL_CONFIG") or os.path.join(home, ".flyte", "config.yaml")
    if chosen == "~" or chosen.startswith(("~/", "~" + os.sep)):
        chosen = home + chosen[1:]
    return os.path.abspath(chosen)


def write_target(path: str) -> str:
    """The file that writing ``path`` replaces: ``path``, or where its link points."""
    if not os.path.islink(path):
        return path
    target = os.path.realpath(path)
    if not os.path.exists(target):
        raise ConfigError(f"it is a symbolic link to {target}, which does not exist")
    return target


def write_atomic(path: str, data: bytes, *, mode: int) -> None:
    """Replace ``path`` with ``data`` (temp file + fsync + rename); the file gets ``mode``.

    A missing parent directory is created, private (0700), as ``~/.flyte`` is.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles)."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the data is synced
    finally:
        os.close(fd)
