"""Fixtures of both tiers: a fresh emulator per test, an isolated home, the CLI, a key
file, a loopback server and the upstream a proxy forwards to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.login import LoopbackServer

from .cli import Cli
from .loopback_login import STATE
from .proxy_upstream import Upstream


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
def key(tmp_path: Path, emulator: Emulator) -> Path:
    """A service-account key file of the emulator's."""
    return emulator.write_service_account_key(tmp_path / "key.json")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback redirect server waiting for the login with ``STATE``."""
    with LoopbackServer(state=STATE) as srv:
        yield srv


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """The server behind the proxy (and the gate): answers with what it saw."""
    server = Upstream()
    yield server
    server.stop()
