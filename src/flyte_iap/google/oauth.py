"""The OAuth calls of a person's login: code exchange, refresh, revoke.

Both the exchange and the refresh send ``audience=<webapp client id>`` so the
ID token is for IAP (aud = webapp client, azp = desktop client). google-auth's
own refresh drops that parameter, so these grants are written here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flyte_iap.errors import ProtocolError, shown
from flyte_iap.google.claims import id_token_problems
from flyte_iap.google.endpoints import Endpoints
from flyte_iap.transport import HttpClient, raise_for_error


@dataclass(frozen=True)
class UserTokens:
    """A checked ID token, its claims, and the refresh token if one came with it."""

    id_token: str
    claims: dict[str, Any]
    refresh_token: str | None

    @property
    def email(self) -> str:
        """The account, as a person may read it (a server's claim: made printable)."""
        return shown(self.claims.get("email") or self.claims.get("sub") or "unknown")

    @property
    def expiry(self) -> int:
        return int(self.claims["exp"])


@dataclass(frozen=True)
class UserClient:
    """The desktop OAuth client and the IAP audience it asks tokens for."""

    client_id: str
    audience: str
    endpoints: Endpoints
    http: HttpClient
    clock: Callable[[], float] = field(default=time.time)

    def exchange_code(
        self, code: str, verifier: str, redirect_uri: str, secret: str, nonce: str
    ) -> UserTokens:
        body = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": redirect_uri,
                "client_secret": secret,
            },
            "exchanging the login code",
        )
        return self._check(body, nonce=nonce)

    def refresh(self, refresh_token: str, secret: str) -> UserTokens:
        body = self._token_request(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_secret": secret,
            },
            "refreshing the login",
        )
        return self._check(body, nonce=None)

    def revoke(self, token: str) -> None:
        response = self.http.request(
            "POST", self.endpoints.revoke_uri, what="the revoke endpoint", data={"token": token}
        )
        raise_for_error(response, "revoking the refresh token")

    def _token_request(self, fields: dict[str, str], what: str) -> dict[str, Any]:
        response = self.http.request(
            "POST",
            self.endpoints.token_uri,
            what="the token endpoint",
            data={**fields, "client_id": self.client_id, "audience": self.audience},
        )
        raise_for_error(response, what)
        return response.json_object(f"{what}: the token endpoint")

    def _check(self, body: dict[str, Any], *, nonce: str | None) -> UserTokens:
        """Check alg, aud, azp, iss, exp (and, after a login, the nonce) before anything is
        cached: a login's ID token must carry the nonce this login sent."""
        token = body.get("id_token")
        if not isinstance(token, str):
            raise ProtocolError(
                "the token endpoint returned no id_token; check that the desktop client "
                f"{self.client_id} may mint tokens for {self.audience}"
            )
        claims, problems = id_token_problems(
            token, audience=self.audience, now=self.clock(), what="the token endpoint"
        )
        if claims.get("azp") != self.client_id:
            problems.append(f"azp is {shown(claims.get('azp'), 80)!r}, not the desktop client")
        if nonce is not None and not (
            isinstance(claims.get("nonce"), str) and claims["nonce"] == nonce
        ):
            problems.append("its nonce does not match this login")
        if problems:
            raise ProtocolError(
                "the ID token from the token endpoint is not usable: " + "; ".join(problems)
            )
        refresh = body.get("refresh_token")
        return UserTokens(token, claims, refresh if isinstance(refresh, str) else None)
