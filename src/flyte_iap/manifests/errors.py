"""The one error of this package: bad input, with a message a person can act on."""

from __future__ import annotations


class ManifestError(Exception):
    """A bad name, file or document given to the renderer or the checker.

    The message names the value or file and the fix; the command line turns it
    into a usage error (exit 2).
    """
