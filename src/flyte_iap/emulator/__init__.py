"""A local stand-in for Google's OAuth, IAM, Secret Manager and metadata endpoints.

It issues real RS256-signed tokens that verify against its certs endpoint, so
``flyte_iap`` (and google-auth) can be exercised end to end without Google.
"""

from .config import EmulatorConfig
from .emulator import Emulator
from .gate import GateConfigError, GateLimits, GateRecord
from .run import ListenError, run_emulator
from .state import MAX_FAULT_DELAY
from .statedir import StateDirError

__all__ = [
    "MAX_FAULT_DELAY",
    "Emulator",
    "EmulatorConfig",
    "GateConfigError",
    "GateLimits",
    "GateRecord",
    "ListenError",
    "StateDirError",
    "run_emulator",
]
