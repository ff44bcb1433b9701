"""A ``service_account`` key file: a signed JWT exchanged at the key's own token_uri.

The assertion is an RS256 JWT (``kid`` = private_key_id), as google-auth's
``jwt.encode`` writes one, signed here with ``cryptography`` alone: google-auth's
``crypt`` package would load its ES256 and x509 code too, and check the key's
consistency on load (tens of milliseconds on every first fetch, for the user's own key,
which Google refuses anyway if it is bad). tests/unit/test_service_account_assertion.py
verifies what is signed here with google-auth. The exchange is the JWT bearer grant of
:mod:`flyte_iap.google.oauth`, so that its timeout, retries and error messages are the
tool's.
"""

from __future__ import annotations

import base64
import json
import time

from flyte_iap.errors import CredentialsError
from flyte_iap.google.adc import CredentialsFile
from flyte_iap.google.credentials import FileCredentials
from flyte_iap.google.endpoints import CLOUD_PLATFORM_SCOPE, Endpoints, check_url
from flyte_iap.google.oauth import TokenEndpoint
from flyte_iap.transport import HttpClient

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
        assertion = self.assertion(claims)
        response = self.token_endpoint.jwt_bearer(
            assertion,
            what=f"signing in as {self.email} with key {self.file.path}",
            hint="If the key was deleted or disabled, create a new one in IAM > Service accounts.",
        )
        return self.token_endpoint.field(response, field)

    def assertion(self, claims: dict[str, Any]) -> str:
        """``claims`` as a JWT signed with the key: RS256, its ``kid`` the key's id."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header: dict[str, Any] = {"typ": "JWT", "alg": "RS256"}
        key_id = self.file.info.get("private_key_id")
        if isinstance(key_id, str) and key_id:
            header["kid"] = key_id
        signing_input = f"{_part(header)}.{_part(claims)}".encode("ascii")
        signature = self._signer.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode('ascii')}.{_b64(signature)}"


def _part(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signer(file: CredentialsFile) -> Any:
    """The key's RSA private key, loaded without the consistency check (see above)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = file.field("private_key").encode("utf-8", "surrogateescape")
    try:
        key = pem_loader()(pem, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, IndexError, UnsupportedAlgorithm) as exc:
        raise CredentialsError(
            f"the private key in {file.label} cannot be read; the file may be truncated or "
            "edited: download a new key"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialsError(
            f"the private key in {file.label} is not an RSA key; download a new key"
        )
    return key


def pem_loader() -> Any:
    """cryptography's ``load_pem_private_key``. Since cryptography 42 that public name is
    bound to the function of its Rust binding; taken from there, it spares a first fetch
    the ``serialization`` package's import (its SSH formats, ciphers and ``dataclasses``:
    about one interpreter start). Should a release move it, the public name is used;
    ``tests/unit/test_service_account_assertion.py`` checks that the two are one function."""
    try:
        from cryptography.hazmat.bindings._rust import openssl

        return openssl.keys.load_pem_private_key
    except (ImportError, AttributeError):  # a cryptography that keeps it elsewhere
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        return load_pem_private_key
