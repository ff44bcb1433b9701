"""Test browsers for ``$BROWSER``, and helpers to run them and read what they did.

``webbrowser`` (Python 3.11) runs ``$BROWSER`` as one executable with the URL as its only
argument, so :func:`browser_env` writes a small launcher script that runs the chosen
browser file with this Python. The launcher notes each URL it is given before the browser
detaches (:func:`launched`); the detached browser appends its entry to the log, then wakes
whoever waits on the log's FIFO (:func:`read_log`), so nothing polls.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from ._launch import ACTION_VAR, CHROMIUM, LOG_VAR, fifo_of

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
    launches = shlex.quote(str(_launches(log_path)))
    launcher.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$1" >> {launches}\n'
        f'exec {shlex.quote(sys.executable)} {shlex.quote(str(script))} "$@"\n'
    )
    launcher.chmod(0o755)
    if not os.path.exists(fifo_of(str(log_path))):
        os.mkfifo(fifo_of(str(log_path)), 0o600)
    return {"BROWSER": str(launcher), ACTION_VAR: action, LOG_VAR: str(log_path)}


def launched(log_path: Path) -> list[str]:
    """The URLs the launcher was run with. ``webbrowser`` waits for the launcher, so once
    the command that opened the browser has returned, this is complete."""
    path = _launches(log_path)
    return path.read_text().splitlines() if path.exists() else []


def _launches(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + ".launched")


def read_log(path: Path, timeout: float = 60.0, count: int = 1) -> list[dict[str, Any]]:
    """Wait until the browser(s) logged ``count`` entries; fail with their stderr if not.

    Each browser writes to the log's FIFO after its entry: this waits on that FIFO, and
    ``timeout`` is only a hang guard."""
    fifo = fifo_of(str(path))
    # Open before reading the log, so that no entry written after the read goes unseen;
    # our own writer keeps the FIFO from reading as closed between two browsers.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            entries = _entries(path)
            if len(entries) >= count:
                return entries
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stderr = Path(str(path) + ".stderr")
                detail = stderr.read_text(errors="replace")[-3000:] if stderr.exists() else ""
                raise AssertionError(
                    f"{len(entries)} of {count} test-browser entries in {path} after {timeout} s;"
                    f" browser stderr:\n{detail}"
                )
            if select.select([reader], [], [], remaining)[0]:
                os.read(reader, 4096)
    finally:
        os.close(writer)
        os.close(reader)


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
