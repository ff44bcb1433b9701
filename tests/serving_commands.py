"""The `flyte-iap` commands that keep running until stopped, started as a user starts them:
in a process of their own, ready once they say where they serve; and a login left waiting
for its browser, ended with Ctrl-C."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .cli import Cli, flyte_iap_command


@dataclass
class EmulatorOutput:
    """What `flyte-iap emulator` printed for a shell: its ``export`` lines as variables,
    and its ``#`` comment lines without the ``# ``."""

    exports: dict[str, str]
    comments: list[str]

    @classmethod
    def parse(cls, text: str) -> EmulatorOutput:
        exports: dict[str, str] = {}
        comments: list[str] = []
        for line in text.splitlines():
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value.strip("'")
            elif line.startswith("# "):
                comments.append(line[2:].strip())
        return cls(exports, comments)


@contextlib.contextmanager
def emulator_command(cli: Cli, state_dir: Path, *args: str) -> Iterator[EmulatorOutput]:
    """``flyte-iap emulator --state-dir STATE_DIR ARGS --exit-after 30`` in ``cli``'s
    environment, once it serves: what it printed. Terminated on leaving the block."""
    command = [*flyte_iap_command(), "emulator", "--state-dir", str(state_dir), *args]
    # A file, not a pipe: all of stdout is written before the "serving on" line on stderr,
    # and the command prints nothing more until it stops.
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            [*command, "--exit-after", "30"],
            env=cli.env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            said: list[str] = []
            for line in proc.stderr:
                said.append(line)
                if line.startswith("Google emulator serving on"):
                    break
            else:
                raise AssertionError(f"the emulator never served (exit {proc.wait(10)}): {said}")
            out.seek(0)
            yield EmulatorOutput.parse(out.read())
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def start_proxy(
    cli: Cli, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    """``flyte-iap proxy ARGS`` in ``cli``'s environment (plus ``env``), once it listens:
    the process, which the caller stops, and its port. Killed after 60 s at the latest."""
    proc = subprocess.Popen(
        [*flyte_iap_command(), "proxy", *args],
        env={**cli.env, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timer = threading.Timer(60, proc.kill)  # never outlives a hung test
    timer.daemon = True
    timer.start()
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"listening on http://localhost:(\d+)", line)
        if found:
            return proc, int(found.group(1))
    raise AssertionError(f"the proxy never listened (exit {proc.wait(10)})")


def start_login(cli: Cli, *args: str) -> subprocess.Popen[str]:
    """``flyte-iap ARGS`` (a login that opens ``cli``'s browser and waits for it) in a session
    of its own, with no terminal: the process, which the caller ends (:func:`interrupt`).
    Killed after 120 s at the latest."""
    proc = subprocess.Popen(
        [*flyte_iap_command(), *args],
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # Python turns SIGINT into KeyboardInterrupt only if it was not ignored when the
        # interpreter started, and a test run started in the background ignores it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    timer = threading.Timer(120, proc.kill)  # never outlives a hung test
    timer.daemon = True
    timer.start()
    return proc


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Ctrl-C, as a person presses it: (exit code, stdout, stderr) once it has ended."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err
