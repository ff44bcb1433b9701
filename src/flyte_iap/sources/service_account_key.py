"""A ``service_account`` key file: a signed JWT exchanged at the key's token_uri.

google-auth signs (RS256, ``kid`` = private_key_id); the exchange is ours so
that its timeout, retries and error messages are the tool's.
"""

from __future__ import annotations

import time

from flyte_iap.config import CLOUD_PLATFORM_SCOPE, check_url
from flyte_iap.credentials_file import CredentialsFile
from flyte_iap.errors import CredentialsError, OAuthError
from flyte_iap.http import HttpClient, raise_for_error

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600


class ServiceAccountKey:
    """Tokens for the service account whose key is in ``file``."""

    def __init__(self, file: CredentialsFile, http: HttpClient) -> None:
        if file.type != "service_account":
            raise CredentialsError(
                f"credentials file {file.label} is of type {file.type!r}, not a service-account key"
            )
        self.file = file
        self.email = file.field("client_email")
        self.token_uri = check_url(file.field("token_uri"), source=f"token_uri in {file.path}")
        self._http = http
        self._signer = _signer(file)

    def id_token(self, audience: str) -> str:
        """An ID token with ``aud`` = audience."""
        body = self._exchange({"target_audience": audience})
        token = body.get("id_token")
        if not isinstance(token, str):
            raise OAuthError(f"the token endpoint {self.token_uri} returned no id_token")
        return token

    def access_token(self) -> str:
        """A cloud-platform access token (to call IAM Credentials or Secret Manager)."""
        body = self._exchange({"scope": CLOUD_PLATFORM_SCOPE})
        token = body.get("access_token")
        if not isinstance(token, str):
            raise OAuthError(f"the token endpoint {self.token_uri} returned no access_token")
        return token

    def _exchange(self, extra_claims: dict[str, str]) -> dict[str, object]:
        from google.auth import jwt

        now = int(time.time())
        claims = {
            "iss": self.email,
            "sub": self.email,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            **extra_claims,
        }
        assertion = jwt.encode(self._signer, claims).decode("ascii")  # type: ignore[no-untyped-call]
        response = self._http.request(
            "POST",
            self.token_uri,
            what="the token endpoint",
            data={"grant_type": JWT_BEARER, "assertion": assertion},
        )
        raise_for_error(
            response,
            f"signing in as {self.email} with key {self.file.path}",
            "If the key was deleted or disabled, create a new one in IAM > Service accounts.",
        )
        body = response.json()
        if not isinstance(body, dict):
            raise OAuthError(f"the token endpoint {self.token_uri} returned a non-object")
        return body


def _signer(file: CredentialsFile) -> object:
    from google.auth import crypt

    file.field("private_key")
    try:
        return crypt.RSASigner.from_service_account_info(file.info)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, IndexError) as exc:
        raise CredentialsError(
            f"the private key in {file.label} cannot be read; the file may be truncated or "
            "edited: download a new key"
        ) from exc
