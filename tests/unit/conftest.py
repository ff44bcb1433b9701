"""The in-process tier: no interpreter starts, no browser; seams instead of sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator, EmulatorConfig

from ..cli import InProcessCli


@pytest.fixture
def run_cli(home: Path, emulator: Emulator) -> InProcessCli:
    """The command line run in this process, pointed at the emulator."""
    return InProcessCli(home, emulator.env())


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """An emulator whose consent screen approves every login at once."""
    with Emulator(EmulatorConfig(auto_approve=True)) as emulator:
        yield emulator
