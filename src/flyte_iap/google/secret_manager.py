"""Secret Manager (REST) with Application Default Credentials: the desktop client secret."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import quote

from flyte_iap.errors import CredentialsError, ProtocolError
from flyte_iap.google.adc import find_credentials_file
from flyte_iap.google.dispatch import credentials_for
from flyte_iap.google.endpoints import Endpoints
from flyte_iap.google.metadata import MetadataServer
from flyte_iap.transport import HttpClient, raise_for_error

NO_ADC = (
    "no Application Default Credentials to read Secret Manager with.\n"
    "Run `gcloud auth application-default login`, or pass --desktop_client_secret."
)


def read_secret(
    project: str, name: str, env: Mapping[str, str], endpoints: Endpoints, http: HttpClient
) -> str:
    """The latest version of ``projects/PROJECT/secrets/NAME`` as text."""
    caller = credentials_for(
        find_credentials_file(None, env, include_well_known=True), endpoints, http
    )
    try:
        access_token = caller.access_token()
    except CredentialsError:
        if isinstance(caller, MetadataServer) and not endpoints.metadata_host_explicit:
            raise CredentialsError(NO_ADC) from None
        raise
    path = f"projects/{quote(project, safe='')}/secrets/{quote(name, safe='')}/versions/latest"
    response = http.request(
        "GET",
        f"{endpoints.secret_manager_uri}/v1/{path}:access",
        what="Secret Manager",
        headers={"Authorization": f"Bearer {access_token}"},
    )
    hint = {
        404: f"Check --desktop_client_secret_gcp_secret_name {name} and --project {project}.",
        403: "Ask for roles/secretmanager.secretAccessor on that secret.",
        401: "Run `gcloud auth application-default login` again.",
    }.get(response.status, "")
    raise_for_error(response, f"reading secret {name} in project {project}", hint)
    try:
        data = response.json_object("Secret Manager")["payload"]["data"]
        return base64.b64decode(data).decode("utf-8").strip()
    except (KeyError, TypeError, ValueError, binascii.Error, ProtocolError) as exc:
        raise ProtocolError(f"Secret Manager returned an unreadable payload for {name}") from exc
