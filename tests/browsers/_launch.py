"""What both test browsers share: detaching like a real launcher, and the result log.

Imported as a sibling module by the browser scripts (they run as plain files).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import urllib.parse
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

LOG_VAR = "FLYTE_IAP_TEST_BROWSER_LOG"
ACTION_VAR = "FLYTE_IAP_TEST_BROWSER_ACTION"
ACTIONS = ("allow", "deny", "forge-state", "none")
FORGED_STATE = "forged-by-the-test-browser"
#: Debian's chromium, as every test that drives it launches it (headless, by playwright).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def detach(log_path: str) -> None:
    """Double fork: the process webbrowser waits for exits 0 at once; the grandchild,
    in a session of its own with stdio off the caller's pipes, carries on."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    errors = os.open(log_path + ".stderr", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(devnull, 0)
    os.dup2(errors, 1)
    os.dup2(errors, 2)


def fifo_of(log_path: str) -> str:
    """The FIFO a browser writes a byte to once its entry is in the log."""
    return log_path + ".fifo"


def append(log_path: str, entry: dict[str, Any]) -> None:
    """One JSON line, written with one O_APPEND write; then a byte to the log's FIFO, for
    whoever waits on it (if nobody does, opening it fails at once: nothing to wake)."""
    line = (json.dumps(entry) + "\n").encode()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    try:
        fd = os.open(fifo_of(log_path), os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader; ENOENT: no FIFO
        return
    try:
        os.write(fd, b"\n")
    except OSError:  # full: the reader is awake anyway
        pass
    finally:
        os.close(fd)


def with_state(url: str, state: str) -> str:
    """``url`` with its ``state`` parameter replaced."""
    parts = urllib.parse.urlsplit(url)
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    params = [(k, state if k == "state" else v) for k, v in params]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(params)))


def loopback_origin(auth_url: str) -> str:
    """``http://127.0.0.1:PORT`` of the redirect_uri inside the consent URL."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(auth_url).query)
    redirect = urllib.parse.urlsplit(query.get("redirect_uri", [""])[0])
    return f"{redirect.scheme}://{redirect.netloc}"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.chunks).split())


def main(kind: str, drive: Callable[[str, str, dict[str, Any]], None]) -> None:
    """Run ``drive(url, action, entry)`` detached, then log ``entry`` (and any error)."""
    url = sys.argv[1] if len(sys.argv) > 1 else ""
    log_path = os.environ[LOG_VAR]
    action = os.environ.get(ACTION_VAR, "allow")
    detach(log_path)
    entry: dict[str, Any] = {
        "browser": kind,
        "action": action,
        "url": url,
        "visited": [],
        "status": None,
        "text": "",
        "error": None,
        "started": time.time(),
    }
    try:
        if action not in ACTIONS:
            raise ValueError(f"unknown {ACTION_VAR}={action!r}; use one of {ACTIONS}")
        if action != "none":
            drive(url, action, entry)
    except BaseException as exc:  # the log is the only place anyone will see it
        entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["traceback"] = traceback.format_exc()
    entry["finished"] = time.time()
    append(log_path, entry)
    os._exit(0)
