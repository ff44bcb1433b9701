"""Reading a Google credentials file (key, ADC) with messages a person can act on."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flyte_iap.errors import CredentialsError

KNOWN_TYPES = (
    "service_account",
    "authorized_user",
    "external_account",
    "impersonated_service_account",
)


@dataclass(frozen=True)
class CredentialsFile:
    """A parsed credentials file and where it came from (for messages)."""

    path: str
    origin: str  # "--service_account_key", "GOOGLE_APPLICATION_CREDENTIALS", "gcloud ADC"
    info: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.info.get("type", ""))

    @property
    def label(self) -> str:
        return f"{self.path} (from {self.origin})"

    def field(self, name: str) -> str:
        """A required string field, or a CredentialsError naming the file."""
        value = self.info.get(name)
        if not isinstance(value, str) or not value:
            raise CredentialsError(
                f"credentials file {self.label} has no {name!r}; "
                "download a new key or run `gcloud auth application-default login` again"
            )
        return value


def load_credentials_file(path: str, origin: str) -> CredentialsFile:
    """Read and parse ``path``; a missing, empty or non-JSON file is a CredentialsError."""
    label = f"{path} (from {origin})"
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise CredentialsError(f"credentials file {label} does not exist; check the path") from None
    except IsADirectoryError:
        raise CredentialsError(
            f"credentials file {label} is a directory, not a JSON file"
        ) from None
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials file {label}: {exc.strerror}") from exc
    if not raw.strip():
        raise CredentialsError(f"credentials file {label} is empty; download the key again")
    try:
        info = json.loads(raw)
    except ValueError:
        raise CredentialsError(
            f"credentials file {label} is not JSON; expected a key file downloaded from "
            "IAM > Service accounts > Keys"
        ) from None
    if not isinstance(info, dict):
        raise CredentialsError(f"credentials file {label} is JSON but not an object")
    result = CredentialsFile(path, origin, info)
    if result.type not in KNOWN_TYPES:
        raise CredentialsError(
            f"credentials file {label} has type {result.type or 'none'!r}; expected one of "
            + ", ".join(KNOWN_TYPES)
        )
    return result


def well_known_adc_path(env: Mapping[str, str]) -> str:
    """Where `gcloud auth application-default login` writes its file."""
    config = env.get("CLOUDSDK_CONFIG")
    if not config:
        if sys.platform == "win32":
            config = os.path.join(env.get("APPDATA", ""), "gcloud")
        else:
            config = os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    return os.path.join(config, "application_default_credentials.json")


def find_credentials_file(
    key_option: str | None, env: Mapping[str, str], *, include_well_known: bool
) -> CredentialsFile | None:
    """The explicit key, else GOOGLE_APPLICATION_CREDENTIALS, else (optionally) gcloud's ADC."""
    if key_option:
        return load_credentials_file(key_option, "--service_account_key")
    gac = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if gac:
        return load_credentials_file(gac, "GOOGLE_APPLICATION_CREDENTIALS")
    if include_well_known:
        path = well_known_adc_path(env)
        if os.path.isfile(path):
            return load_credentials_file(path, "gcloud application-default credentials")
    return None
