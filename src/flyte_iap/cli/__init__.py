"""The command line: ``flyte-iap`` (drop-in with flytekitplugins-identity-aware-proxy).

The only package that imports click. :func:`main` first tries the cached-token
fast path (``fastpath``), which imports nothing heavy; only on a miss are click
(``app``) and the network modules imported.
"""

from __future__ import annotations

import sys

from flyte_iap.cli.fastpath import cached_token


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        token = cached_token(args)
    except Exception:  # the fast path must never be why a command fails
        token = None
    if token:
        sys.stdout.write(token + "\n")
        sys.stdout.flush()
        return 0
    from flyte_iap.cli.app import run

    return run(args)
