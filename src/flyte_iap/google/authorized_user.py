"""A person's ADC file (``gcloud auth application-default login``): a caller only.

It can sign requests (Secret Manager, IAM Credentials impersonation) but cannot
mint a service account's ID token.
"""

from __future__ import annotations

from flyte_iap.errors import CredentialsError
from flyte_iap.google.credentials import FileCredentials
from flyte_iap.google.oauth import TokenEndpoint


class AuthorizedUser(FileCredentials):
    """Refreshed at the user-flow token endpoint (``FLYTE_IAP_TOKEN_URI``), not at a
    ``token_uri`` in the file as google-auth does: a stray field in a file must not
    send a refresh token elsewhere."""

    def check_can_mint(self) -> None:
        raise CredentialsError(
            f"{self.file.label} holds a person's credentials, which cannot mint a "
            "service-account token.\nUse `flyte-iap generate-user-id-token`, or add "
            "--impersonate_service_account EMAIL."
        )

    def access_token(self) -> str:
        endpoint = TokenEndpoint(self.endpoints.token_uri, self.http)
        response = endpoint.refresh(
            self.file.field("client_id"),
            self.file.field("client_secret"),
            self.file.field("refresh_token"),
            what=f"refreshing the application-default credentials in {self.file.path}",
            hint="Run `gcloud auth application-default login` again.",
        )
        return endpoint.field(response, "access_token")
