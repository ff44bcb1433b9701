"""The in-process tier: no interpreter starts, no browser; seams instead of sleeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator

from ..cli import InProcessCli


@pytest.fixture
def run_cli(home: Path, emulator: Emulator) -> InProcessCli:
    """The command line run in this process, pointed at the emulator."""
    return InProcessCli(home, emulator.env())
