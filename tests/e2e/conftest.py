"""Fixtures the end-to-end modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flyte_iap.emulator import Emulator

from ..flytekit_backend import IapGate, serve_admin


@pytest.fixture
def admin(emulator: Emulator) -> Iterator[tuple[int, IapGate]]:
    """flyteadmin's GetVersion over gRPC behind IAP's token check: its port, and the gate."""
    with serve_admin(emulator.certs_uri) as served:
        yield served
