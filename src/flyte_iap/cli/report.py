"""How a failure ends the command line: one or two lines on stderr and an exit code
(docs/design.md, "Output"), the same whether click ran the command or not."""

from __future__ import annotations

import sys


def reported(exc: BaseException, *, verbose: bool) -> int:
    """Print ``exc`` as the command line reports it; its exit code. A traceback only with
    ``verbose``; a FlyteIapError's message as it is (it is written for a person)."""
    from flyte_iap.errors import FlyteIapError

    if isinstance(exc, KeyboardInterrupt):
        print("flyte-iap: interrupted", file=sys.stderr)
        return 130
    if verbose:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, FlyteIapError):
        print(f"flyte-iap: {exc}", file=sys.stderr)
        return exc.exit_code
    print(
        f"flyte-iap: unexpected error: {type(exc).__name__}: {exc}\n"
        "Run again with --verbose for details, and report it if it persists.",
        file=sys.stderr,
    )
    return 1
