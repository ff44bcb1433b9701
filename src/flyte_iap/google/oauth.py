"""Google's OAuth 2.0 token endpoint: every grant this tool sends, and one way its errors
are read.

The grants (RFC 6749 and RFC 7523), each a POST of form fields to a token endpoint:

- ``refresh_token``: a person's login renewed (:meth:`UserClient.refresh`), and a person's
  ADC file signing a request (``google.authorized_user``);
- ``authorization_code``: a browser login's code exchanged, with its PKCE verifier
  (:meth:`UserClient.exchange_code`);
- ``urn:ietf:params:oauth:grant-type:jwt-bearer``: a service-account key's signed
  assertion exchanged (``google.service_account_key``).

Every one goes through :meth:`TokenEndpoint.grant`: one request, and an error answer
turned into one message (``what failed (status): error: description`` and the next
step) by :func:`flyte_iap.transport.raise_for_error`. A person's grants send
``audience=<webapp client id>`` so that the ID token is for IAP (aud = webapp client,
azp = desktop client); google-auth's own refresh drops that parameter, so these grants
are written here. The one grant not sent from here is workload identity federation's
token exchange (RFC 8693): google-auth makes it, through our HTTP client
(``google.auth_transport``), with the subject token it alone knows how to obtain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from flyte_iap.errors import ProtocolError, shown
from flyte_iap.google.claims import id_token_problems
from flyte_iap.google.endpoints import Endpoints
from flyte_iap.transport import HttpClient, Response, raise_for_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class TokenEndpoint:
    """A token endpoint (``url``): Google's, or the ``token_uri`` of a key file. (The
    classes here are plain, not dataclasses: a first fetch builds them, and
    ``dataclasses`` would cost that command more than they do.)"""

    __slots__ = ("http", "url")

    def __init__(self, url: str, http: HttpClient) -> None:
        self.url = url
        self.http = http

    def grant(self, fields: Mapping[str, str], *, what: str, hint: str = "") -> Response:
        """POST ``fields``; the answer if it is a success, else an OAuthError saying
        ``what`` failed, in Google's words, and ``hint`` (the next step)."""
        response = self.http.request("POST", self.url, what="the token endpoint", data=dict(fields))
        raise_for_error(response, what, hint)
        return response

    def refresh(
        self, client_id: str, client_secret: str, refresh_token: str, *, what: str, hint: str = ""
    ) -> Response:
        """The ``refresh_token`` grant (without an audience: an access token)."""
        return self.grant(
            {
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
            },
            what=what,
            hint=hint,
        )

    def jwt_bearer(self, assertion: str, *, what: str, hint: str = "") -> Response:
        """The JWT bearer grant: a signed assertion for an access or an ID token."""
        return self.grant({"grant_type": JWT_BEARER, "assertion": assertion}, what=what, hint=hint)

    def field(self, response: Response, name: str) -> str:
        """A non-empty string field of a successful answer, or a ProtocolError."""
        return response.json_field(name, f"the token endpoint {self.url}")


class UserTokens:
    """A checked ID token, its claims, and the refresh token if one came with it."""

    __slots__ = ("claims", "id_token", "refresh_token")

    def __init__(self, id_token: str, claims: dict[str, Any], refresh_token: str | None) -> None:
        self.id_token = id_token
        self.claims = claims
        self.refresh_token = refresh_token

    def __repr__(self) -> str:  # never a token
        return f"<UserTokens for {self.email}>"

    @property
    def email(self) -> str:
        """The account, as a person may read it (a server's claim: made printable)."""
        return shown(self.claims.get("email") or self.claims.get("sub") or "unknown")

    @property
    def expiry(self) -> int:
        return int(self.claims["exp"])


class UserClient:
    """The desktop OAuth client and the IAP audience it asks a person's tokens for."""

    __slots__ = ("audience", "client_id", "clock", "endpoints", "http")

    def __init__(
        self,
        client_id: str,
        audience: str,
        endpoints: Endpoints,
        http: HttpClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self.audience = audience
        self.endpoints = endpoints
        self.http = http
        self.clock = clock

    def exchange_code(
        self, code: str, verifier: str, redirect_uri: str, secret: str, nonce: str
    ) -> UserTokens:
        body = self._grant(
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
        body = self._grant(
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

    def _grant(self, fields: dict[str, str], what: str) -> dict[str, Any]:
        endpoint = TokenEndpoint(self.endpoints.token_uri, self.http)
        response = endpoint.grant(
            {**fields, "client_id": self.client_id, "audience": self.audience}, what=what
        )
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
