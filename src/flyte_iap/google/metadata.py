"""The GCE/GKE metadata server (``GCE_METADATA_HOST``, as google-auth reads it).

Written against the REST paths directly rather than google-auth's private
``_metadata`` module: that one retries five times on its own and reads the
environment at import time, and we want one retry policy and fast failure
when there is no metadata server at all (a laptop, a CI runner).
"""

from __future__ import annotations

from flyte_iap.errors import CredentialsError, ProtocolError, TransportError
from flyte_iap.google.credentials import Credentials
from flyte_iap.google.endpoints import Endpoints
from flyte_iap.transport import HttpClient, Response, raise_for_error

FLAVOR = {"Metadata-Flavor": "Google"}
# Off GCP, metadata.google.internal does not resolve or 169.254.169.254 does
# not answer: give up quickly rather than hang a pyflyte call.
CONNECT_TIMEOUT = 1.0


class MetadataServer(Credentials):
    """The default service account of the VM, node or Kubernetes workload."""

    def __init__(self, endpoints: Endpoints, http: HttpClient) -> None:
        super().__init__(endpoints, http)
        self.host = endpoints.metadata_host
        self.source = f"metadata server at {self.host}"
        self._root = endpoints.metadata_root
        self._explicit = endpoints.metadata_host_explicit

    def ask_principal(self) -> str:
        return self.email()

    def id_token(self, audience: str) -> str:
        response = self._get(
            "instance/service-accounts/default/identity",
            {"audience": audience, "format": "full"},
            "the identity endpoint",
        )
        token = response.text().strip()
        if not token:
            raise ProtocolError(f"the metadata server at {self.host} returned an empty ID token")
        return token

    def email(self) -> str:
        response = self._get("instance/service-accounts/default/email", None, "the email endpoint")
        email = response.text().strip()
        # A captive portal or a stand-in answers 200 with a page: not an account's name.
        if not (0 < len(email) <= 254 and "@" in email and email.isprintable()) or " " in email:
            raise ProtocolError(
                f"the metadata server at {self.host} answered {response.status} with "
                f"{response.kind()}, not a service-account email"
            )
        return email

    def access_token(self) -> str:
        response = self._get("instance/service-accounts/default/token", None, "the token endpoint")
        return response.json_field("access_token", f"the metadata server at {self.host}")

    def _get(self, path: str, params: dict[str, str] | None, what: str) -> Response:
        try:
            response = self.http.request(
                "GET",
                f"{self._root}/{path}",
                what=f"the metadata server ({what})",
                headers=FLAVOR,
                params=params,
                connect_timeout=CONNECT_TIMEOUT,
                # An unset host that does not answer means "not on GCP": say so at once.
                tries=None if self._explicit else 1,
            )
        except TransportError as exc:
            if self._explicit:
                raise CredentialsError(
                    f"{exc} (GCE_METADATA_HOST={self.host})\n"
                    "Check that variable, or pass --service_account_key KEY.json."
                ) from exc
            raise CredentialsError(
                "no Google credentials found: no --service_account_key, no "
                "GOOGLE_APPLICATION_CREDENTIALS, and no metadata server (not on GCE/GKE).\n"
                "Pass --service_account_key KEY.json, or set GOOGLE_APPLICATION_CREDENTIALS."
            ) from exc
        if response.status == 404:
            raise CredentialsError(
                f"the metadata server at {self.host} has no {path} (404): this VM or pod has "
                "no service account; attach one, or pass --service_account_key KEY.json"
            )
        raise_for_error(response, f"asking the metadata server at {self.host} ({what})")
        return response
