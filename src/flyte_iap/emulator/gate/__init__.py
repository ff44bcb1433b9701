"""The emulator's Identity-Aware Proxy: checks the bearer of each request as IAP does and
streams the allowed ones to an upstream (REST, the Connect protocol: any HTTP/1.1).

:class:`Gate` serves it, bounded by :class:`GateLimits`, in front of an :class:`Upstream`
(:class:`GateConfigError` for a URL it cannot use) and keeps a :class:`GateRecord` of each
request with its :class:`Outcome`; :func:`judge` is its verdict on one token, against
:class:`Expectations`, in IAP's words (after :data:`PREFIX`).
"""

from flyte_iap.emulator.gate.check import PREFIX, Expectations, Verdict, judge
from flyte_iap.emulator.gate.http1 import GateLimits
from flyte_iap.emulator.gate.relay import GateConfigError, Upstream
from flyte_iap.emulator.gate.server import Gate, GateRecord, Outcome

__all__ = [
    "PREFIX",
    "Expectations",
    "Gate",
    "GateConfigError",
    "GateLimits",
    "GateRecord",
    "Outcome",
    "Upstream",
    "Verdict",
    "judge",
]
