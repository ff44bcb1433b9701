"""Minting the tokens Google would issue: ID tokens and opaque access tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flyte_iap.emulator.config import EmulatorConfig
from flyte_iap.emulator.keys import SigningKey
from flyte_iap.emulator.state import EmulatorState

GOOGLE_ISSUER = "https://accounts.google.com"


def numeric_id(email: str) -> str:
    """A stable 21-digit id for an identity, shaped like Google's unique ids."""
    digest = int.from_bytes(hashlib.sha256(email.encode("utf-8")).digest()[:9], "big")
    return "1" + str(digest).zfill(20)[-20:]


class TokenMinter:
    """Issues Google-signed (here: emulator-signed) ID tokens and access tokens."""

    def __init__(self, config: EmulatorConfig, state: EmulatorState, issuer_key: SigningKey):
        self.config = config
        self.state = state
        self.issuer_key = issuer_key

    def id_token(
        self,
        *,
        audience: str,
        email: str,
        azp: str,
        include_email: bool = True,
        nonce: str = "",
    ) -> str:
        """An RS256 ID token with ``iss=https://accounts.google.com``."""
        claims = self.claims(
            audience=audience, email=email, azp=azp, include_email=include_email, nonce=nonce
        )
        return self.issuer_key.sign_jwt(claims)

    def claims(
        self,
        *,
        audience: str,
        email: str,
        azp: str,
        include_email: bool = True,
        nonce: str = "",
    ) -> dict[str, Any]:
        """The claims of :meth:`id_token`, unsigned."""
        now = int(self.state.clock())
        claims: dict[str, Any] = {
            "iss": GOOGLE_ISSUER,
            "aud": audience,
            "azp": azp,
            "sub": numeric_id(email),
            "iat": now,
            "exp": now + self.config.token_lifetime,
            # Two tokens minted in the same second would otherwise be byte-identical
            # (RS256 signatures are deterministic), hiding whether a new one was fetched.
            "jti": secrets.token_hex(8),
        }
        if include_email:
            claims["email"] = email
            claims["email_verified"] = True
        if nonce:
            claims["nonce"] = nonce
        return claims

    def service_account_id_token(
        self, email: str, audience: str, include_email: bool = True
    ) -> str:
        """An ID token for a service account, as IAM and the metadata server issue it."""
        return self.id_token(
            audience=audience, email=email, azp=numeric_id(email), include_email=include_email
        )

    def access_token(self, email: str, scope: str = "", prefix: str = "emu") -> dict[str, Any]:
        """An OAuth token response body carrying a freshly remembered access token."""
        lifetime = self.config.token_lifetime
        token = self.state.add_access_grant(prefix, email, lifetime, scope)
        return {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}
