"""A ``service_account`` key file: a signed JWT exchanged at the key's own token_uri.

google-auth signs (RS256, ``kid`` = private_key_id); the exchange is the JWT bearer
grant of :mod:`flyte_iap.google.oauth`, so that its timeout, retries and error messages
are the tool's.
"""

from __future__ import annotations

import time

from flyte_iap.errors import CredentialsError
from flyte_iap.google.adc import CredentialsFile
from flyte_iap.google.credentials import FileCredentials
from flyte_iap.google.endpoints import CLOUD_PLATFORM_SCOPE, Endpoints, check_url
from flyte_iap.google.oauth import TokenEndpoint
from flyte_iap.transport import HttpClient

ASSERTION_LIFETIME = 3600


class ServiceAccountKey(FileCredentials):
    """Tokens for the service account whose key is in ``file``."""

    def __init__(self, file: CredentialsFile, endpoints: Endpoints, http: HttpClient) -> None:
        super().__init__(file, endpoints, http)
        self.email = file.field("client_email")
        token_uri = check_url(file.field("token_uri"), source=f"token_uri in {file.path}")
        self.token_endpoint = TokenEndpoint(token_uri, http)
        self.source = f"key file {file.path}"
        self._signer = _signer(file)

    @property
    def principal(self) -> str:
        return self.email

    def id_token(self, audience: str) -> str:
        """An ID token with ``aud`` = audience (``target_audience`` in the assertion)."""
        return self._exchange({"target_audience": audience}, "id_token")

    def access_token(self) -> str:
        """A cloud-platform access token (to call IAM Credentials or Secret Manager)."""
        return self._exchange({"scope": CLOUD_PLATFORM_SCOPE}, "access_token")

    def _exchange(self, extra_claims: dict[str, str], field: str) -> str:
        from google.auth import jwt

        # Google checks iat and exp against its own clock: this is the real time, always.
        now = int(time.time())
        claims = {
            "iss": self.email,
            "sub": self.email,
            "aud": self.token_endpoint.url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            **extra_claims,
        }
        assertion = jwt.encode(self._signer, claims).decode("ascii")  # type: ignore[no-untyped-call]
        response = self.token_endpoint.jwt_bearer(
            assertion,
            what=f"signing in as {self.email} with key {self.file.path}",
            hint="If the key was deleted or disabled, create a new one in IAM > Service accounts.",
        )
        return self.token_endpoint.field(response, field)


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
