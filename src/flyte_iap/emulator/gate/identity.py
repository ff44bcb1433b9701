"""What IAP tells the application about the caller who passed: the signed header
``X-Goog-IAP-JWT-Assertion`` and the unsigned ``X-Goog-Authenticated-User-*`` ones.

As Google's "Securing your app with signed headers" documents the assertion: an ES256 JWT
whose ``kid`` names a key published at ``https://www.gstatic.com/iap/verify/public_key``
(PEM) and ``.../public_key-jwk`` (JWK); issued by ``https://cloud.google.com/iap`` for the
protected resource (``/projects/NUMBER/global/backendServices/ID`` behind a load
balancer); ``iat`` now and ``exp`` at most ten minutes on; ``sub`` and ``email`` naming the
caller; ``hd`` when the account belongs to a hosted domain; ``google`` only when access
levels apply (the emulator has none). IAP strips every ``x-goog-*`` header a client sent,
so only these reach the application.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flyte_iap.emulator.keys import Es256Key

IAP_ISSUER = "https://cloud.google.com/iap"
ASSERTION_LIFETIME = 600  # seconds: IAP's ten minutes
ACCOUNT_PREFIX = "accounts.google.com:"  # how IAP qualifies a Google account's id and email


@dataclass(frozen=True)
class SignedHeader:
    """How the gate signs ``X-Goog-IAP-JWT-Assertion``: with ``key``, for ``audience``
    (the signed header audience of the protected resource), at ``clock()``."""

    key: Es256Key
    audience: str
    clock: Callable[[], float]

    def claims(self, passed: Mapping[str, Any]) -> dict[str, Any]:
        """The assertion's claims for the caller whose ID token's claims are ``passed``."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "aud": self.audience,
            "email": passed["email"],
            "exp": now + ASSERTION_LIFETIME,
            "iat": now,
            "iss": IAP_ISSUER,
            "sub": ACCOUNT_PREFIX + str(passed.get("sub")),
        }
        if isinstance(passed.get("hd"), str):
            claims["hd"] = passed["hd"]
        return claims

    def assertion(self, passed: Mapping[str, Any]) -> str:
        """The signed JWT IAP puts in ``X-Goog-IAP-JWT-Assertion``."""
        return self.key.sign_jwt(self.claims(passed))


def identity_headers(
    passed: Mapping[str, Any], signed: SignedHeader | None
) -> list[tuple[str, str]]:
    """The headers IAP adds for the application (the assertion only when ``signed``)."""

    def printable(value: object) -> str:
        return "".join(ch if ch.isprintable() and ch.isascii() else "?" for ch in str(value))

    headers = [
        ("X-Goog-Authenticated-User-Email", ACCOUNT_PREFIX + printable(passed["email"])),
        ("X-Goog-Authenticated-User-Id", ACCOUNT_PREFIX + printable(passed.get("sub"))),
    ]
    if signed is not None:
        headers.append(("X-Goog-IAP-JWT-Assertion", signed.assertion(passed)))
    return headers
