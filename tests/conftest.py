"""Shared fixtures: a fresh emulator per test, and the installed CLI as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator, EmulatorConfig

# Variables that would leak the developer's own Google setup into a test.
_SCRUB = (
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
)


def flyte_iap_command() -> list[str]:
    """The installed console script (what users run); `python -m` if not on PATH."""
    script = shutil.which("flyte-iap")
    return [script] if script else [sys.executable, "-m", "flyte_iap"]


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


class Cli:
    """Runs `flyte-iap` in a subprocess with an isolated HOME, cache and Google env."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.cache_dir = home / "cache"
        base = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        base.update(HOME=str(home), FLYTE_IAP_CACHE_DIR=str(self.cache_dir))
        # Unless a test points it at the emulator, the metadata server is
        # somewhere that refuses at once, never Google's real one.
        base["GCE_METADATA_HOST"] = "127.0.0.1:9"
        base.update(env)
        self.env = base

    def __call__(self, *args: str, timeout: float = 60, **env: str) -> Result:
        run_env = {**self.env, **env}
        for key, value in env.items():
            if value == "":
                run_env.pop(key, None)
        proc = subprocess.run(
            [*flyte_iap_command(), *args],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            # No controlling terminal: /dev/tty is absent, as under flytekit in CI,
            # and a developer's own terminal is never written to or read from.
            start_new_session=True,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig()) as emu:
        yield emu


@pytest.fixture
def cli(tmp_path: Path, emulator: Emulator) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home, emulator.env())


def assert_clean_failure(result: Result, *needles: str) -> None:
    """A failure as SPEC §1 wants it: non-zero, no stdout, 1-2 lines, no traceback."""
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
