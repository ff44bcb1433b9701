"""A local stand-in for Google's OAuth, IAM, Secret Manager and metadata endpoints.

It issues real RS256-signed tokens that verify against its certs endpoint, so
``flyte_iap`` (and google-auth) can be exercised end to end without Google.

:class:`Emulator` serves it (configured by :class:`EmulatorConfig`) and, in front of an
upstream, the IAP gate (bounded by :class:`GateLimits`; :class:`GateConfigError` for an
upstream it cannot use; one :class:`GateRecord` with its :class:`Outcome` per request),
over HTTP or HTTPS, handing the application IAP's signed header.
:func:`run_emulator` is the ``flyte-iap emulator`` command (:class:`StateDirError`,
:class:`ListenError`), :func:`run_demo` the ``flyte-iap demo``. The keys and JWTs it
signs (RS256 as Google, ES256 as IAP) are :mod:`flyte_iap.emulator.keys`, for tests that
forge their own.
"""

from flyte_iap.emulator.config import EmulatorConfig
from flyte_iap.emulator.demo import run_demo
from flyte_iap.emulator.emulator import Emulator
from flyte_iap.emulator.gate import GateConfigError, GateLimits, GateRecord, Outcome
from flyte_iap.emulator.records import MAX_FAULT_DELAY
from flyte_iap.emulator.run import ListenError, run_emulator
from flyte_iap.emulator.statedir import StateDirError

__all__ = [
    "MAX_FAULT_DELAY",
    "Emulator",
    "EmulatorConfig",
    "GateConfigError",
    "GateLimits",
    "GateRecord",
    "ListenError",
    "Outcome",
    "StateDirError",
    "run_demo",
    "run_emulator",
]
