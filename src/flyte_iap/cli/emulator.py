"""``emulator`` and ``demo``: the local stand-in for Google, and the tour that uses it."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("emulator")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--state-dir",
    "--state_dir",
    "state_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the sample key and ADC files (default: a new temporary directory).",
)
@click.option(
    "--auto-approve",
    "--auto_approve",
    "auto_approve",
    is_flag=True,
    help="Approve every consent request at once (for scripts).",
)
@click.option(
    "--exit-after",
    "--exit_after",
    "exit_after",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: at Ctrl-C).",
)
def emulator(
    port: int, state_dir: str | None, auto_approve: bool, exit_after: float | None
) -> None:
    """Serve a local stand-in for Google's token, certs, metadata, IAM and Secret Manager APIs.

    Prints `export ...` lines that point flyte-iap at it.
    """
    import tempfile

    from flyte_iap.emulator import run_emulator

    directory = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="flyte-iap-emu-"))
    directory.mkdir(parents=True, exist_ok=True)
    code = run_emulator(port, directory, auto_approve, exit_after, sys.stdout, sys.stderr)
    if code:
        raise SystemExit(code)


@click.command("demo")
def demo() -> None:
    """Show the whole flow against a built-in emulator: no Google project needed."""
    from flyte_iap.emulator.demo import run_demo

    run_demo(sys.stdout)
