"""Opening the consent page in the person's browser, with Python's :mod:`webbrowser`.

``webbrowser`` honours ``$BROWSER`` (a list of commands separated by ``os.pathsep``; in
Python 3.11 each is one executable, given the URL as its only argument, not a command
line with ``%s``). It runs such a command and *waits for it to exit*, so a ``$BROWSER``
launcher must return at once and leave the browser running, as ``xdg-open`` does.
"""

from __future__ import annotations

import contextlib
import os
import sys
import webbrowser
from collections.abc import Iterator

# Text browsers that webbrowser falls back on in a terminal without a display: Google's
# sign-in needs JavaScript, and they would take over (or, without a terminal, hang) the
# command. The person gets the URL printed instead.
_CONSOLE_BROWSERS = frozenset({"www-browser", "links", "elinks", "lynx", "w3m"})


def open_browser(url: str) -> bool:
    """Open ``url`` in a browser; False when none can be found or it fails to start.

    Nothing the launcher prints reaches stdout, which carries the token.
    """
    try:
        if _only_console_browser():
            return False
        with _stdout_to_stderr():
            return webbrowser.open(url)
    except webbrowser.Error:
        return False


def _only_console_browser() -> bool:
    """webbrowser's first choice is a text browser the person did not ask for."""
    if os.environ.get("BROWSER"):
        return False
    controller = webbrowser.get()
    return os.path.basename(getattr(controller, "name", "")) in _CONSOLE_BROWSERS


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr while a launcher starts (it inherits our fds)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no stdout or stderr to juggle: nothing to protect
        yield
        return
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
