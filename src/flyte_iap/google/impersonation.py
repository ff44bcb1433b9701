"""IAM Credentials ``generateIdToken``: an ID token for another service account."""

from __future__ import annotations

from urllib.parse import quote

from flyte_iap.google.endpoints import Endpoints
from flyte_iap.transport import HttpClient, raise_for_error


def generate_id_token(
    http: HttpClient, endpoints: Endpoints, caller_token: str, email: str, audience: str
) -> str:
    """Ask IAM Credentials for an ID token of ``email`` (``includeEmail``: IAP needs it)."""
    url = (
        f"{endpoints.iam_credentials_uri}/v1/projects/-/serviceAccounts/"
        f"{quote(email, safe='@')}:generateIdToken"
    )
    what = "IAM Credentials generateIdToken"
    response = http.request(
        "POST",
        url,
        what=what,
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
    return response.json_field("token", what)
