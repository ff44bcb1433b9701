"""Fixtures the end-to-end modules share."""

from __future__ import annotations

# flyteadmin's GetVersion behind a token check, as IAP would stand (test_flytekit_configure).
from .test_flytekit import admin  # noqa: F401
