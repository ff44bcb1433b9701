"""Fixtures of both tiers: a fresh emulator per test, an isolated home, the CLI, a key
file, a loopback server and the upstream a proxy forwards to."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.login import LoopbackServer

from .cli import Cli
from .loopback_login import STATE
from .proxy_upstream import Upstream

# Property-based tests (Hypothesis): in CI and by default a fixed, derandomized budget, so a
# run is bounded and repeatable; HYPOTHESIS_PROFILE=long searches far more, at random.
settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,  # a loaded 2-core machine is not a slow parser
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Set by .ci/run: there every part a test needs is installed (chromium, root, setpriv,
#: unshare, a tmpfs, the installed command), so a test that skips hides a failure.
CI = os.environ.get("FLYTE_IAP_CI") == "1"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """In CI a skip is a failure, saying why it would have skipped; elsewhere (a laptop
    without chromium or root) a skip stays a skip, with its reason in the summary."""
    report: pytest.TestReport = yield
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where it must run: {reason}"
    return report


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
