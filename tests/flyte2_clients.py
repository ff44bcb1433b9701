"""Running the real Flyte 2 SDK and its `flyte` CLI as a user runs them: each in a fresh
interpreter of its own, with a clean environment, ending as the SDK's HTTP client lets it."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .cli import isolated_env

WAIT = 30.0  # the longest any one process here is given (each takes a few seconds)
# pyqwest 0.12, the SDK's HTTP client (Rust, tokio), can abort the interpreter as it exits:
# a tokio thread still handing a finished response to asyncio takes the GIL during
# finalization, CPython ends that thread with pthread_exit, and unwinding through Rust
# frames calls abort() (SIGABRT, nothing on stderr; 1 run in 40 to 80 here, and once in CI;
# gdb on the core shows PyThread_exit_thread under pyqwest::asyncio::runtime::report).
# So each client process here ends with os._exit once its output is flushed: what it
# printed and its exit status are kept, only the interpreter's finalization is skipped.
QUICK_EXIT = """
import os as _os, sys as _sys
_sys.stdout.flush(); _sys.stderr.flush(); _os._exit(0)
"""
FLYTE_CLI = """
import os, sys
from flyte.cli.main import main
sys.argv[0] = "flyte"
try:
    main()
    code = 0
except SystemExit as done:
    code = done.code if isinstance(done.code, int) else int(done.code is not None)
sys.stdout.flush(); sys.stderr.flush(); os._exit(code)
"""


def client_env(home: Path) -> dict[str, str]:
    """A clean environment for the Flyte 2 client: no Flyte settings, no HTTP proxy."""
    env = isolated_env(home, {})
    return {k: v for k, v in env.items() if not k.startswith("FLYTE") and "proxy" not in k.lower()}


def sdk(home: Path, script: str, *args: str) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; its one JSON line of output."""
    proc = subprocess.run(
        [sys.executable, "-c", script + QUICK_EXIT, *args],
        env=client_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def lines_of(stream: object) -> queue.Queue[str]:
    """Each line ``stream`` yields, as it comes, read on a daemon thread; '' at its end."""
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            found.put(line)
        found.put("")

    threading.Thread(target=pump, daemon=True).start()
    return found
