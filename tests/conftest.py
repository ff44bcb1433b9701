"""Fixtures of both tiers: a fresh emulator per test, an isolated home, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.login.loopback import LoopbackServer

from .helpers import STATE, Cli


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig()) as emu:
        yield emu


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(home: Path, emulator: Emulator) -> Cli:
    """The installed `flyte-iap` in a subprocess, pointed at the emulator."""
    return Cli(home, emulator.env())


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback redirect server waiting for the login with ``STATE``."""
    with LoopbackServer(state=STATE) as srv:
        yield srv
