"""Workload identity federation (GitHub Actions, GitLab, AWS, Azure...): an
``external_account`` file whose subject token google-auth exchanges at STS.

Built with ``from_info`` rather than ``google.auth.default()``, which would
also ask Cloud Resource Manager for a project id we do not need.
"""

from __future__ import annotations

from typing import Any

from flyte_iap.errors import CredentialsError
from flyte_iap.google.adc import CredentialsFile
from flyte_iap.google.credentials import FileCredentials
from flyte_iap.google.endpoints import CLOUD_PLATFORM_SCOPE, Endpoints
from flyte_iap.google.impersonation import generate_id_token
from flyte_iap.transport import HttpClient


class ExternalAccount(FileCredentials):
    """The federated identity, or (with ``service_account_impersonation_url``) the
    service account it impersonates: its :attr:`principal`."""

    def __init__(self, file: CredentialsFile, endpoints: Endpoints, http: HttpClient) -> None:
        super().__init__(file, endpoints, http)
        target = file.principal
        self.source = f"impersonation of {target} via {file.label}" if target else file.label

    @property
    def principal(self) -> str | None:
        return self.file.principal

    def check_can_mint(self) -> None:
        if not self.principal:
            raise CredentialsError(
                f"{self.file.label} is a workload identity federation file without a service "
                "account to impersonate; add --impersonate_service_account EMAIL"
            )

    def id_token(self, audience: str) -> str:
        self.check_can_mint()
        target = self.principal
        assert target is not None
        # The federated token calls generateIdToken itself: the account would otherwise
        # need TokenCreator on itself for the file's own impersonation hop.
        return generate_id_token(
            self.http, self.endpoints, self._token(federated_only=True), target, audience
        )

    def access_token(self) -> str:
        return self._token(federated_only=False)

    def impersonate(self, target: str, audience: str) -> str:
        if target == self.principal:
            return self.id_token(audience)
        return super().impersonate(target, audience)

    def _token(self, *, federated_only: bool) -> str:
        from google.auth import aws, exceptions, identity_pool, pluggable

        from flyte_iap.google.auth_transport import GoogleAuthRequest

        info = dict(self.file.info)
        if federated_only:
            info.pop("service_account_impersonation_url", None)
        source = info.get("credential_source") or {}
        if isinstance(source, dict) and str(source.get("environment_id", "")).startswith("aws"):
            kind: Any = aws.Credentials
        elif isinstance(source, dict) and "executable" in source:
            kind = pluggable.Credentials
        else:
            kind = identity_pool.Credentials
        try:
            credentials = kind.from_info(info, scopes=[CLOUD_PLATFORM_SCOPE])
            credentials.refresh(GoogleAuthRequest(self.http, "workload identity federation"))
        except (exceptions.GoogleAuthError, ValueError, OSError) as exc:
            raise CredentialsError(
                f"workload identity federation with {self.file.label} failed: {_one_line(exc)}"
            ) from exc
        return str(credentials.token)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__
