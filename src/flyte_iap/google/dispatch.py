"""The one place that maps a credentials file's ``type`` to its kind of credentials."""

from __future__ import annotations

from flyte_iap.errors import CredentialsError
from flyte_iap.google.adc import CredentialsFile
from flyte_iap.google.authorized_user import AuthorizedUser
from flyte_iap.google.credentials import Credentials, FileCredentials
from flyte_iap.google.endpoints import Endpoints
from flyte_iap.google.external_account import ExternalAccount
from flyte_iap.google.metadata import MetadataServer
from flyte_iap.google.service_account_key import ServiceAccountKey
from flyte_iap.transport import HttpClient


def credentials_for(
    file: CredentialsFile | None, endpoints: Endpoints, http: HttpClient
) -> Credentials:
    """The credentials in ``file``; the metadata server when there is no file."""
    if file is None:
        return MetadataServer(endpoints, http)
    if file.type == "service_account":
        return ServiceAccountKey(file, endpoints, http)
    if file.type == "authorized_user":
        return AuthorizedUser(file, endpoints, http)
    if file.type == "external_account":
        return ExternalAccount(file, endpoints, http)
    return _Unsupported(file, endpoints, http)


class _Unsupported(FileCredentials):
    """A known file type this tool does not read (``impersonated_service_account``)."""

    def check_can_mint(self) -> None:
        raise CredentialsError(
            f"{self.file.label} is of type {self.file.type!r}; pass a service-account key, or "
            "add --impersonate_service_account EMAIL"
        )

    def access_token(self) -> str:
        raise CredentialsError(
            f"credentials file {self.file.label} of type {self.file.type!r} cannot be used as "
            "the caller; use a service-account key, gcloud ADC or a workload identity "
            "federation file"
        )
