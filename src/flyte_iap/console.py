"""Where messages for a person go: stderr, never stdout (stdout is the token)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO


class Console:
    """Writes progress, warnings and (with ``verbose``) debug lines to ``err``."""

    def __init__(self, err: TextIO | None = None, *, verbose: bool = False) -> None:
        self.err = err if err is not None else sys.stderr
        self.verbose = verbose

    def say(self, message: str) -> None:
        print(message, file=self.err, flush=True)

    def warn(self, message: str) -> None:
        self.say(message)

    def debug(self, message: str) -> None:
        if self.verbose:
            self.say(f"flyte-iap: {message}")
