"""Caller credentials: what signs the request to IAM Credentials (or Secret Manager).

Each is something with ``access_token() -> str``: a service-account key, the
metadata server, a person's ADC (``authorized_user``), or a workload identity
federation file (``external_account``).
"""

from __future__ import annotations

from typing import Any, Protocol

from flyte_iap.config import CLOUD_PLATFORM_SCOPE, Endpoints
from flyte_iap.credentials_file import CredentialsFile
from flyte_iap.errors import CredentialsError, OAuthError
from flyte_iap.http import HttpClient, raise_for_error
from flyte_iap.lookup import impersonation_target
from flyte_iap.sources.metadata import MetadataServer
from flyte_iap.sources.service_account_key import ServiceAccountKey


class Caller(Protocol):
    def access_token(self) -> str: ...


class AuthorizedUser:
    """A person's ADC file (``gcloud auth application-default login``).

    Refreshed at the user-flow token endpoint (``FLYTE_IAP_TOKEN_URI``), not at
    a ``token_uri`` in the file, as google-auth does: a stray field in a file
    must not send a refresh token elsewhere.
    """

    def __init__(self, file: CredentialsFile, endpoints: Endpoints, http: HttpClient) -> None:
        self.file = file
        self._fields = {k: file.field(k) for k in ("client_id", "client_secret", "refresh_token")}
        self._token_uri = endpoints.token_uri
        self._http = http

    def access_token(self) -> str:
        response = self._http.request(
            "POST",
            self._token_uri,
            what="the token endpoint",
            data={"grant_type": "refresh_token", **self._fields},
        )
        raise_for_error(
            response,
            f"refreshing the application-default credentials in {self.file.path}",
            "Run `gcloud auth application-default login` again.",
        )
        token = response.json().get("access_token")
        if not isinstance(token, str):
            raise OAuthError(f"the token endpoint {self._token_uri} returned no access_token")
        return token


class ExternalAccount:
    """Workload identity federation (GitHub Actions, GitLab, AWS, Azure...).

    Built with ``from_info`` rather than ``google.auth.default()``, which would
    also ask Cloud Resource Manager for a project id we do not need.
    """

    def __init__(self, file: CredentialsFile, http: HttpClient, *, federated_only: bool) -> None:
        self.file = file
        self._http = http
        info = dict(file.info)
        if federated_only:
            info.pop("service_account_impersonation_url", None)
        self._info = info

    def access_token(self) -> str:
        from google.auth import aws, exceptions, identity_pool, pluggable

        from flyte_iap.google_transport import GoogleAuthRequest

        source = self._info.get("credential_source") or {}
        if isinstance(source, dict) and str(source.get("environment_id", "")).startswith("aws"):
            kind: Any = aws.Credentials
        elif isinstance(source, dict) and "executable" in source:
            kind = pluggable.Credentials
        else:
            kind = identity_pool.Credentials
        try:
            credentials = kind.from_info(self._info, scopes=[CLOUD_PLATFORM_SCOPE])
            credentials.refresh(GoogleAuthRequest(self._http, "workload identity federation"))
        except (exceptions.GoogleAuthError, ValueError, OSError) as exc:
            raise CredentialsError(
                f"workload identity federation with {self.file.label} failed: {_one_line(exc)}"
            ) from exc
        return str(credentials.token)


def caller_for(
    file: CredentialsFile | None, endpoints: Endpoints, http: HttpClient, *, target: str
) -> Caller:
    """The caller credentials in ``file``, or the metadata server when there is none."""
    if file is None:
        return MetadataServer(endpoints, http)
    if file.type == "service_account":
        return ServiceAccountKey(file, http)
    if file.type == "authorized_user":
        return AuthorizedUser(file, endpoints, http)
    if file.type == "external_account":
        # When the file's own impersonation target is the account we want an ID
        # token for, call generateIdToken with the federated token itself: the
        # account would otherwise need TokenCreator on itself.
        return ExternalAccount(file, http, federated_only=impersonation_target(file.info) == target)
    raise CredentialsError(
        f"credentials file {file.label} of type {file.type!r} cannot be used as the caller; "
        "use a service-account key, gcloud ADC or a workload identity federation file"
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__
