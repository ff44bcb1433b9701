"""Running `flyte-iap` as the tests run it: the installed command in a subprocess
(:class:`Cli`, :class:`UserCli`) or the same command line in process (:class:`InProcessCli`),
each with an isolated HOME, cache and Google environment; and what a clean failure looks like.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flyte_iap.cli.app import run
from flyte_iap.cli.wiring import Wiring
from flyte_iap.emulator import Emulator

from .browsers import browser_env, read_log

# Variables that would leak the developer's own Google setup into a test.
SCRUB = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
    "CLOUDSDK_CONFIG",
    "XDG_CACHE_HOME",
    "BROWSER",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "FLYTE_IAP_DESKTOP_CLIENT_SECRET",
    "PYTHON_KEYRING_BACKEND",
    "FLYTECTL_CONFIG",
)
# Where nothing listens: a metadata server that refuses at once, never Google's real one.
DEAD = "127.0.0.1:9"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def token(self) -> str:
        assert self.returncode == 0, self.stderr
        assert self.stdout.endswith("\n") and self.stdout.count("\n") == 1, repr(self.stdout)
        return self.stdout[:-1]


def assert_clean_failure(result: Result, *needles: str) -> None:
    """A failure as docs/design.md ("Output") wants it: non-zero, no stdout, 1-2 lines,
    no traceback, and each needle in the message."""
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def assert_login_failure(result: Result, *needles: str) -> None:
    """assert_clean_failure, after dropping the login instructions shown before the failure
    (and the warning that a secret given on the command line is visible to ``ps``)."""
    lines = [
        line
        for line in result.stderr.splitlines()
        if not line.startswith("warning: --desktop_client_secret can be read")
    ]
    if lines and lines[0].startswith("flyte-iap: log in in the browser"):
        lines = lines[2:]
    assert_clean_failure(Result(result.returncode, result.stdout, "\n".join(lines)), *needles)


def flyte_iap_command() -> list[str]:
    """The console script installed beside this interpreter (what users run), never another
    ``flyte-iap`` found on PATH (the plugin's, say); ``python -m`` where there is none."""
    script = Path(sys.executable).with_name("flyte-iap")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "flyte_iap"]


def isolated_env(home: Path, env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the developer's Google setup, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in SCRUB}
    base.update(HOME=str(home), FLYTE_IAP_CACHE_DIR=str(home / "cache"), GCE_METADATA_HOST=DEAD)
    base.update(env)
    return base


class Cli:
    """Runs `flyte-iap` in a subprocess with an isolated HOME, cache and Google env.

    A keyword argument set to "" removes that variable for the one run.
    """

    def __init__(self, home: Path, env: Mapping[str, str]) -> None:
        self.home = home
        self.cache_dir = home / "cache"
        self.env = isolated_env(home, env)

    def __call__(self, *args: str, timeout: float = 60, **env: str) -> Result:
        proc = subprocess.run(
            [*flyte_iap_command(), *args],
            env=_with(self.env, env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            # No controlling terminal: /dev/tty is absent, as under flytekit in CI,
            # and a developer's own terminal is never written to or read from.
            start_new_session=True,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


class InProcessCli(Cli):
    """The same command line run in this process through ``run`` and a test ``Wiring``:
    no interpreter start, and backoff sleeps recorded instead of slept."""

    def __init__(self, home: Path, env: Mapping[str, str]) -> None:
        super().__init__(home, env)
        self.sleeps: list[float] = []

    def __call__(self, *args: str, timeout: float = 60, **env: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        wiring = Wiring(_with(self.env, env), sleep=self.sleeps.append)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(args), wiring)
        return Result(code, out.getvalue(), err.getvalue())


def _with(base: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    env = {**base, **changes}
    for key, value in changes.items():
        if value == "":
            env.pop(key, None)
    return env


class UserCli(Cli):
    """A Cli whose ADC (for Secret Manager) is the emulator's key and whose browser is scripted."""

    def __init__(self, home: Path, emu: Emulator, kind: str = "http", action: str = "allow"):
        key = emu.write_service_account_key(home / "adc-key.json")
        self.browser_log = home / "browser.jsonl"
        super().__init__(
            home,
            {
                **emu.env(),
                "GOOGLE_APPLICATION_CREDENTIALS": str(key),
                **browser_env(kind, action, self.browser_log),
            },
        )
        self.emu = emu

    def browser_visits(self, expected: int, timeout: float = 30) -> list[dict[str, object]]:
        return read_log(self.browser_log, timeout=timeout, count=expected)

    def cache_entry(self) -> dict[str, object]:
        (path,) = self.cache_dir.glob("user_*.json")
        return dict(json.loads(path.read_text()))


def run_manifests(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """``flyte-iap manifests ARGS`` in process through the command line's own ``run``, so
    its messages and exit codes are the command's: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    given = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(["manifests", *args], Wiring({}))
    finally:
        sys.stdin = given
    return code, out.getvalue(), err.getvalue()
