"""The emulator's Identity-Aware Proxy: checks the bearer of each request as IAP does and
streams the allowed ones to an upstream (REST, the Connect protocol: any HTTP/1.1), over
HTTP or HTTPS.

:class:`Gate` serves it, bounded by :class:`GateLimits`, in front of an :class:`Upstream`
(:class:`GateConfigError` for a URL it cannot use) and keeps a :class:`GateRecord` of each
request with its :class:`Outcome`; :func:`admit` is its verdict on a request's
credentials (which header IAP takes the token from), :func:`judge` on one token, against
:class:`Expectations`, in IAP's words (after :data:`PREFIX`). The allowed requests carry
IAP's identity headers, the assertion signed as :class:`SignedHeader` says (issued by
:data:`IAP_ISSUER`). :class:`GateCertificates` is the CA and certificate of its HTTPS.
"""

from flyte_iap.emulator.gate.check import PREFIX, Expectations, Verdict, admit, judge
from flyte_iap.emulator.gate.http1 import GateLimits
from flyte_iap.emulator.gate.identity import IAP_ISSUER, SignedHeader
from flyte_iap.emulator.gate.relay import GateConfigError, Upstream
from flyte_iap.emulator.gate.server import Gate, GateRecord, Outcome
from flyte_iap.emulator.gate.tls import GateCertificates

__all__ = [
    "IAP_ISSUER",
    "PREFIX",
    "Expectations",
    "Gate",
    "GateCertificates",
    "GateConfigError",
    "GateLimits",
    "GateRecord",
    "Outcome",
    "SignedHeader",
    "Upstream",
    "Verdict",
    "admit",
    "judge",
]
