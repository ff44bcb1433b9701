"""What every kind of Google credentials can do, and what it cannot.

A kind is one module (``service_account_key``, ``metadata``, ``authorized_user``,
``external_account``) with a subclass of :class:`Credentials`; ``dispatch`` picks
the kind for a credentials file. Each kind plays two roles:

- a *source*: :meth:`Credentials.id_token` mints an ID token for an audience
  as the credentials' own account (not every kind can);
- a *caller*: :meth:`Credentials.access_token` signs requests to IAM Credentials
  and Secret Manager, and :meth:`Credentials.impersonate` asks IAM Credentials
  for another account's ID token.
"""

from __future__ import annotations

from flyte_iap.errors import CredentialsError
from flyte_iap.google.adc import CredentialsFile
from flyte_iap.google.endpoints import Endpoints
from flyte_iap.google.impersonation import generate_id_token
from flyte_iap.transport import HttpClient


class Credentials:
    """Credentials of one kind, with the endpoints and HTTP client they talk through."""

    #: How a token from these credentials is described (messages, the cache entry).
    source = "credentials"

    def __init__(self, endpoints: Endpoints, http: HttpClient) -> None:
        self.endpoints = endpoints
        self.http = http

    @property
    def principal(self) -> str | None:
        """The account these credentials mint ID tokens for, if known without a request."""
        return None

    def ask_principal(self) -> str | None:
        """The account, asking the network if the credentials can say (the metadata server)."""
        return self.principal

    def check_can_mint(self) -> None:
        """Raise a CredentialsError saying why these credentials cannot be a source.

        No network: called before the cache lock is taken.
        """

    def id_token(self, audience: str) -> str:
        """An ID token with ``aud`` = ``audience`` for these credentials' own account."""
        self.check_can_mint()
        raise CredentialsError(f"{self.source} cannot mint an ID token")

    def access_token(self) -> str:
        """A cloud-platform access token."""
        raise CredentialsError(f"{self.source} cannot sign requests to Google APIs")

    def impersonate(self, target: str, audience: str) -> str:
        """An ID token of ``target`` from IAM Credentials, with these credentials as caller."""
        return generate_id_token(self.http, self.endpoints, self.access_token(), target, audience)


class FileCredentials(Credentials):
    """Credentials read from a file (a key, a person's ADC, a federation file)."""

    def __init__(self, file: CredentialsFile, endpoints: Endpoints, http: HttpClient) -> None:
        super().__init__(endpoints, http)
        self.file = file
        self.source = file.label
