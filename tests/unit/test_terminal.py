"""The terminal a person reads and types at, even when stderr is captured: real ptys."""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_iap.login import Terminal


def read_pty(master: int, timeout: float = 5.0) -> str:
    """What arrived on the pty's master side until it went quiet."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.3 if chunks else 0.1)
        if not ready:
            if chunks:
                break
            continue
        chunks.append(os.read(master, 4096))
    return b"".join(chunks).decode()


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def test_terminal_stderr_is_enough_when_it_is_a_terminal(
    pty: tuple[int, int], tmp_path: Path
) -> None:
    master, slave = pty
    tty_file = tmp_path / "tty"
    tty_file.touch()
    with os.fdopen(os.dup(slave), "w") as stderr:
        terminal = Terminal(stderr, tty_path=str(tty_file))
        assert terminal.has_person()
        terminal.show("open this URL")
    assert "open this URL" in read_pty(master)
    assert tty_file.read_text() == ""


def test_terminal_copies_to_the_tty_when_stderr_is_captured(
    pty: tuple[int, int], tmp_path: Path
) -> None:
    master, slave = pty
    with open(tmp_path / "stderr", "w+") as stderr:
        terminal = Terminal(stderr, tty_path=os.ttyname(slave))
        assert terminal.has_person()
        terminal.show("open this URL")
        stderr.seek(0)
        assert stderr.read() == "open this URL\n"
    assert "open this URL" in read_pty(master)


def test_terminal_without_any_tty(tmp_path: Path) -> None:
    with open(tmp_path / "stderr", "w+") as stderr:
        for tty_path in (None, str(tmp_path / "missing" / "tty")):
            terminal = Terminal(stderr, tty_path=tty_path)
            assert not terminal.has_person()
            terminal.show("nobody sees this")
            assert terminal.prompt("URL: ") is None
        stderr.seek(0)
        assert stderr.read() == "nobody sees this\n" * 2


def test_prompt_reads_a_line_from_the_tty(pty: tuple[int, int]) -> None:
    master, slave = pty
    terminal = Terminal(sys.stderr, tty_path=os.ttyname(slave))
    os.write(master, b"http://127.0.0.1:1/?code=c&state=s\n")
    assert terminal.prompt("Redirected URL: ") == "http://127.0.0.1:1/?code=c&state=s"
    assert "Redirected URL: " in read_pty(master)
    os.write(master, b"\x04")  # ^D at the start of a line: end of file
    assert terminal.prompt("again: ") is None
