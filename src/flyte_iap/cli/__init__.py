"""The command line: ``flyte-iap`` (drop-in with flytekitplugins-identity-aware-proxy).

The only package that imports click. :func:`main` first tries the cached-token
fast path (``fastpath``), which imports nothing heavy; only on a miss are click
(``app``) and the network modules imported.
"""

from __future__ import annotations

import os
import sys

from flyte_iap.cli.fastpath import cached_token

#: What ``configure`` writes into a Flyte config to run this tool: this interpreter with
#: ``-P`` (the working directory, wherever pyflyte runs, is not searched for modules)
#: and a one-line program. pip's console script would import ``re`` first, and
#: ``python -m`` runpy: each costs about as much as the cached-token answer itself.
LAUNCH = ("-P", "-c", "from flyte_iap.cli import entry; entry()")


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
    from flyte_iap.cli.direct import token_command

    code = token_command(args)
    if code is not None:
        return code
    from flyte_iap.cli.app import run

    return run(args)


def entry() -> None:
    """The console script ``flyte-iap``, and :data:`LAUNCH`: :func:`main`, then the
    process ends as soon as its output is flushed. Every file the command writes (the
    cache, a config) is in place by then; what is skipped is the interpreter's
    finalization, which costs a first fetch more than its network call."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (EPIPE) or a closed stream
            code = code or 1
    os._exit(code)
