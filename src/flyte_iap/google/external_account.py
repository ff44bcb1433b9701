"""Workload identity federation (GitHub Actions, GitLab, AWS, Azure...): an
``external_account`` file whose subject token google-auth exchanges at STS.

Built with ``from_info`` rather than ``google.auth.default()``, which would
also ask Cloud Resource Manager for a project id we do not need. google-auth
does not check the file's URLs (its docs say so): we do, before any request.
Its error messages quote response bodies, which may hold the token just sent,
so they are never shown; the message says which call failed instead.
"""

from __future__ import annotations

from flyte_iap.errors import CredentialsError, UsageError, shown
from flyte_iap.google.adc import CredentialsFile
from flyte_iap.google.credentials import FileCredentials
from flyte_iap.google.endpoints import CLOUD_PLATFORM_SCOPE, Endpoints, check_url
from flyte_iap.google.impersonation import generate_id_token
from flyte_iap.transport import HttpClient

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ExternalAccount(FileCredentials):
    """The federated identity, or (with ``service_account_impersonation_url``) the
    service account it impersonates: its :attr:`principal`."""

    def __init__(self, file: CredentialsFile, endpoints: Endpoints, http: HttpClient) -> None:
        super().__init__(file, endpoints, http)
        check_credential_urls(file)
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
        label = self.file.label
        failures: tuple[type[Exception], ...] = (exceptions.GoogleAuthError, *_OTHER_FAILURES)
        request = GoogleAuthRequest(self.http, "workload identity federation", _steps(info))
        # `from None` below: google-auth's exception text may quote a token, and
        # --verbose prints the chain.
        try:
            credentials = kind.from_info(info, scopes=[CLOUD_PLATFORM_SCOPE])
        except failures as exc:
            raise CredentialsError(
                f"{label} is not a workload identity federation file google-auth accepts "
                f"({type(exc).__name__}); create it again with "
                "`gcloud iam workload-identity-pools create-cred-config`"
            ) from None
        try:
            credentials.refresh(request)
        except failures:
            step = request.failure() or f"could not get the subject token from {_describe(source)}"
            raise CredentialsError(
                f"workload identity federation with {label} failed: {step}"
                + _HINTS.get(request.refused_by or "", "")
            ) from None
        return str(credentials.token)


#: The URLs of an ``external_account`` file that google-auth sends a credential to: the
#: subject token (and the file's client secret) to STS, the federated token to
#: impersonation and to introspection. ``credential_source`` URLs are not among them:
#: they are where the subject token comes from (Azure's and AWS's metadata servers,
#: plain http on link-local addresses by design), sent only the file's own headers.
CREDENTIAL_URLS = ("token_url", "service_account_impersonation_url", "token_info_url")

_STS = "the STS token exchange"
_IMPERSONATION = "service account impersonation"
_HINTS = {
    _STS: "\ncheck the file's audience (the pool's provider) and that the subject token is valid",
    _IMPERSONATION: "\ngrant the federated identity roles/iam.workloadIdentityUser on the "
    "service account",
}
# Besides google-auth's own errors: what a malformed file or answer makes it raise.
_OTHER_FAILURES: tuple[type[Exception], ...] = (
    ValueError,
    OSError,
    LookupError,
    TypeError,
    AttributeError,
)


def check_credential_urls(file: CredentialsFile) -> None:
    """Hold each of :data:`CREDENTIAL_URLS` in ``file`` to the https-or-loopback rule."""
    for key in CREDENTIAL_URLS:
        value = file.info.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise UsageError(f"{key} in {file.label} is not a string; it must be an https:// URL")
        check_url(value, source=f"{key} in {file.path}")


def _steps(info: dict[str, Any]) -> dict[str, str]:
    """Each URL google-auth may call, named for messages."""
    steps = {}
    source = info.get("credential_source")
    if isinstance(source, dict) and isinstance(source.get("url"), str):
        steps[source["url"]] = "the credential_source URL"
    for key, what in (("token_url", _STS), ("service_account_impersonation_url", _IMPERSONATION)):
        if isinstance(info.get(key), str):
            steps[info[key]] = what
    return steps


def _describe(source: object) -> str:
    """Where the subject token comes from, for a message."""
    if isinstance(source, dict):
        if isinstance(source.get("file"), str):
            return f"the file '{shown(source['file'])}'"
        if "executable" in source:
            return "the executable of its credential_source"
    return "its credential_source"
