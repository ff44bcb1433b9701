"""Test browsers for ``$BROWSER``, and helpers to run them and read what they did.

``webbrowser`` (Python 3.11) runs ``$BROWSER`` as one executable with the URL as its only
argument, so :func:`browser_env` writes a small launcher script that runs the chosen
browser file with this Python.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from ._launch import ACTION_VAR, CHROMIUM, LOG_VAR

HERE = Path(__file__).resolve().parent
KINDS = ("http", "chromium")


def browser_env(kind: str, action: str, log_path: Path) -> dict[str, str]:
    """Environment for a subprocess whose ``webbrowser`` should use a test browser.

    ``kind``: http or chromium; ``action``: allow, deny, forge-state or none.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown test browser {kind!r}; known: {KINDS}")
    script = HERE / f"{kind}_browser.py"
    launcher = log_path.parent / f"{kind}-browser-launcher"
    launcher.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(script))} "$@"\n'
    )
    launcher.chmod(0o755)
    return {"BROWSER": str(launcher), ACTION_VAR: action, LOG_VAR: str(log_path)}


def read_log(path: Path, timeout: float = 60.0, count: int = 1) -> list[dict[str, Any]]:
    """Wait until the browser(s) logged ``count`` entries; fail with their stderr if not."""
    deadline = time.monotonic() + timeout
    while True:
        entries = _entries(path)
        if len(entries) >= count:
            return entries
        if time.monotonic() > deadline:
            stderr = Path(str(path) + ".stderr")
            detail = stderr.read_text(errors="replace")[-3000:] if stderr.exists() else ""
            raise AssertionError(
                f"{len(entries)} of {count} test-browser entries in {path} after {timeout} s;"
                f" browser stderr:\n{detail}"
            )
        time.sleep(0.1)


def _entries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    # A line being written is not complete until its newline.
    return [json.loads(line) for line in lines if line.strip()]


def chromium_missing() -> str | None:
    """Why the chromium browser cannot run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return "Debian's /usr/bin/chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; no `playwright install`)"
    return None
