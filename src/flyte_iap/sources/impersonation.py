"""IAM Credentials ``generateIdToken``: an ID token for another service account."""

from __future__ import annotations

from urllib.parse import quote

from flyte_iap.config import Endpoints
from flyte_iap.errors import OAuthError
from flyte_iap.http import HttpClient, raise_for_error


def generate_id_token(
    http: HttpClient, endpoints: Endpoints, caller_token: str, email: str, audience: str
) -> str:
    """Ask IAM Credentials for an ID token of ``email`` (``includeEmail``: IAP needs it)."""
    url = (
        f"{endpoints.iam_credentials_uri}/v1/projects/-/serviceAccounts/"
        f"{quote(email, safe='@')}:generateIdToken"
    )
    response = http.request(
        "POST",
        url,
        what="IAM Credentials generateIdToken",
        json_body={"audience": audience, "includeEmail": True},
        headers={"Authorization": f"Bearer {caller_token}"},
    )
    hint = {
        404: f"Check the spelling of {email}: no such service account.",
        403: (
            "Grant the caller roles/iam.serviceAccountOpenIdTokenCreator on "
            f"{email}, or check that the IAM Credentials API is enabled."
        ),
    }.get(response.status, "")
    raise_for_error(response, f"impersonating {email}", hint)
    token = response.json().get("token")
    if not isinstance(token, str):
        raise OAuthError("IAM Credentials generateIdToken returned no token")
    return token
