"""The emulator's Identity-Aware Proxy: checks the bearer of each request as IAP does and
streams the allowed ones to an upstream (REST, the Connect protocol: any HTTP/1.1)."""

from .check import PREFIX, Expectations, Verdict, judge
from .http1 import GateLimits
from .relay import GateConfigError, Upstream
from .server import Gate, GateRecord

__all__ = [
    "PREFIX",
    "Expectations",
    "Gate",
    "GateConfigError",
    "GateLimits",
    "GateRecord",
    "Upstream",
    "Verdict",
    "judge",
]
