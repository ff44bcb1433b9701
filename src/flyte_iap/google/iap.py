"""How an answer that Identity-Aware Proxy wrote itself is told from one of the backend's.

IAP marks its own answers (401 to a program without a valid token, 302 to Google's login
for a browser, 403 to an account without access) with ``x-goog-iap-generated-response:
true``. The doctor reads it to tell IAP's refusal from the backend's answer; the proxy to
know that a 401 came from IAP (a token to renew), not from the backend.
"""

from __future__ import annotations

from collections.abc import Mapping

GENERATED_HEADER = "x-goog-iap-generated-response"


def from_iap(headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` (looked up without regard to case) are those of IAP's own answer."""
    return headers.get(GENERATED_HEADER, "").strip().lower() == "true"
