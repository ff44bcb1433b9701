"""The person's side of a login: where they see messages and type an answer, even when
stderr is captured, and how a browser opens for them (:class:`LoginUi`).

flytekit runs ``proxyCommand`` with stderr captured, so a login URL printed only on
stderr would reach nobody. :class:`Terminal` also writes to the controlling terminal
(``/dev/tty``; the console on Windows) when stderr is not one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, TextIO


def _default_tty_path() -> str:
    """The controlling terminal for writing: ``/dev/tty`` on POSIX, the console on Windows."""
    return "CONOUT$" if os.name == "nt" else "/dev/tty"


DEFAULT_TTY_PATH = _default_tty_path()


def _input_path(tty_path: str) -> str:
    """The path to read typed lines from: Windows splits its console in two."""
    return "CONIN$" if tty_path == "CONOUT$" else tty_path


@contextlib.contextmanager
def _open_tty(path: str, mode: str) -> Iterator[IO[str]]:
    """Open a terminal (``mode`` "r" or "w") without making it our controlling terminal."""
    flags = (os.O_RDONLY if mode == "r" else os.O_WRONLY) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    with open(fd, mode, encoding="utf-8", errors="replace") as stream:
        yield stream


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class Terminal:
    """Messages for a person: always on stderr, and on the terminal when stderr is not one.

    ``stderr`` defaults to ``sys.stderr`` and ``tty_path`` to the controlling terminal
    (:data:`DEFAULT_TTY_PATH`); ``tty_path=None`` means there is no terminal to fall back on.
    """

    def __init__(
        self, stderr: TextIO | None = None, tty_path: str | None = DEFAULT_TTY_PATH
    ) -> None:
        self._stderr = stderr if stderr is not None else sys.stderr
        self._tty_path = tty_path

    def show(self, message: str) -> None:
        """Print ``message`` on stderr; also on the terminal if stderr is not a terminal."""
        print(message, file=self._stderr, flush=True)
        if self._tty_path is None or _isatty(self._stderr):
            return
        with contextlib.suppress(OSError), _open_tty(self._tty_path, "w") as tty:
            tty.write(message + "\n")

    def has_person(self) -> bool:
        """Whether anyone can see a message: stderr is a terminal, or the terminal opens."""
        if _isatty(self._stderr):
            return True
        if self._tty_path is None:
            return False
        try:
            with _open_tty(self._tty_path, "w"):
                return True
        except OSError:
            return False

    def prompt(self, text: str) -> str | None:
        """Write ``text`` on the terminal and read one line from it (without its newline).

        Blocks until a line is typed; None when there is no terminal or it is at EOF.
        """
        if self._tty_path is None:
            return None
        try:
            with _open_tty(self._tty_path, "w") as out:
                out.write(text)
            with _open_tty(_input_path(self._tty_path), "r") as tty:
                line = tty.readline()
        except OSError:
            return None
        return line.rstrip("\r\n") if line else None


class LoginUi:
    """The seams of a login: where a person sees messages, and how a browser opens.
    (A plain class: a person's refresh builds one, and ``dataclasses`` would cost that
    command more than the class.)"""

    __slots__ = ("open_browser", "terminal")

    def __init__(self, terminal: Terminal, open_browser: Callable[[str], bool]) -> None:
        self.terminal = terminal
        self.open_browser = open_browser
