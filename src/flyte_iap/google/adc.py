"""Application Default Credentials: where this machine's Google credentials are.

A credentials file (a key, a person's ADC, a federation file), found, read and
named; else the metadata server, at :func:`metadata_host`; and who obtains a token,
as a digest (:func:`source_id`). Light on purpose (``os``, ``sys``, and ``json`` only for
what :mod:`flyte_iap.flatjson` does not read or write): the
fast path asks :func:`read_info`, :func:`principal_of` and :func:`source_id` which
cached entry would hold the token.
"""

from __future__ import annotations

import os
import sys

from flyte_iap.files import NotTrusted, read_small_file
from flyte_iap.flatjson import dumps_sorted, loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

KNOWN_TYPES = (
    "service_account",
    "authorized_user",
    "external_account",
    "impersonated_service_account",
)
_IMPERSONATION_SUFFIX = ":generateAccessToken"
DEFAULT_METADATA_HOST = "metadata.google.internal"


class CredentialsFile:
    """A parsed credentials file and where it came from (for messages)."""

    __slots__ = ("info", "origin", "path")

    def __init__(self, path: str, origin: str, info: dict[str, Any]) -> None:
        self.path = path
        #: "--service_account_key", "GOOGLE_APPLICATION_CREDENTIALS", "gcloud ADC"...
        self.origin = origin
        self.info = info

    @property
    def type(self) -> str:
        return str(self.info.get("type", ""))

    @property
    def label(self) -> str:
        return f"{self.path} (from {self.origin})"

    @property
    def principal(self) -> str | None:
        """Whose tokens this file yields, when the file alone says so."""
        if self.type == "service_account":
            email = self.info.get("client_email")
            return email if isinstance(email, str) and email else None
        if self.type == "external_account":
            return impersonation_target(self.info)
        return None

    def field(self, name: str) -> str:
        """A required string field, or a CredentialsError naming the file."""
        value = self.info.get(name)
        if not isinstance(value, str) or not value:
            raise _error(
                f"credentials file {self.label} has no {name!r}; "
                "download a new key or run `gcloud auth application-default login` again"
            )
        return value


def impersonation_target(info: Mapping[str, object]) -> str | None:
    """The service account an ``external_account`` file impersonates, if any."""
    url = info.get("service_account_impersonation_url")
    if not isinstance(url, str) or not url.endswith(_IMPERSONATION_SUFFIX):
        return None
    _, sep, email = url[: -len(_IMPERSONATION_SUFFIX)].rpartition("/serviceAccounts/")
    return email if sep and email and "/" not in email else None


def load_credentials_file(path: str, origin: str) -> CredentialsFile:
    """Read and parse ``path``; a missing, empty or non-JSON file is a CredentialsError."""
    label = f"{path} (from {origin})"
    info = _read(path, label)
    if isinstance(info, str):
        raise _error(info)
    result = CredentialsFile(path, origin, info)
    if result.type not in KNOWN_TYPES:
        raise _error(
            f"credentials file {label} has type {result.type or 'none'!r}; expected one of "
            + ", ".join(KNOWN_TYPES)
        )
    return result


def read_info(path: str) -> dict[str, Any] | None:
    """The JSON object of a credentials file; None if it is unreadable or not one."""
    info = _read(path, path)
    return None if isinstance(info, str) else info


def principal_of(info: dict[str, Any]) -> str | None:
    """The account the credentials in ``info`` yield tokens for, when they say."""
    return CredentialsFile("", "", info).principal


def _read(path: str, label: str) -> dict[str, Any] | str:
    """The JSON object in ``path``, or what is wrong with the file (a message).

    Bounded and non-blocking (``files.read_small_file``): a FIFO or ``/dev/zero`` in
    place of a key is refused, not read forever.
    """
    try:
        raw = read_small_file(path)
    except FileNotFoundError:
        return f"credentials file {label} does not exist; check the path"
    except IsADirectoryError:
        return f"credentials file {label} is a directory, not a JSON file"
    except NotTrusted as exc:
        return f"credentials file {label} cannot be used: {exc.strerror}"
    except OSError as exc:
        return f"cannot read credentials file {label}: {exc.strerror}"
    if not raw.strip():
        return f"credentials file {label} is empty; download the key again"
    try:
        info = loads(raw)
        if info is None:  # nested (a federation file), or not JSON: json says which
            import json

            info = json.loads(raw)
    except (ValueError, RecursionError):
        return (
            f"credentials file {label} is not JSON; expected a key file downloaded from "
            "IAM > Service accounts > Keys"
        )
    if not isinstance(info, dict):
        return f"credentials file {label} is JSON but not an object"
    return info


def _error(message: str) -> Exception:
    # Imported here: the fast path reads files through this module, and only a
    # failure needs the error classes.
    from flyte_iap.errors import CredentialsError

    return CredentialsError(message)


def _usage(message: str) -> Exception:
    from flyte_iap.errors import UsageError

    return UsageError(message)


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
    if key_option is not None:
        if not key_option:
            raise _usage(
                "--service_account_key is empty: give the path of a key file, or "
                "leave the option out"
            )
        return load_credentials_file(key_option, "--service_account_key")
    gac = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if gac:
        return load_credentials_file(gac, "GOOGLE_APPLICATION_CREDENTIALS")
    if include_well_known:
        path = well_known_adc_path(env)
        if os.path.isfile(path):
            return load_credentials_file(path, "gcloud application-default credentials")
    return None


# --- who obtains a token --------------------------------------------------------------
def metadata_host(env: Mapping[str, str]) -> str:
    """``GCE_METADATA_HOST``, as google-auth reads it, else Google's metadata host."""
    return env.get("GCE_METADATA_HOST") or DEFAULT_METADATA_HOST


def source_id(info: Mapping[str, object] | None, env: Mapping[str, str]) -> str:
    """Who obtains a token, in 16 hex digits: the credentials file, all of it (its private
    key, refresh token or federation config), or else this machine's metadata server.

    Part of a cached token's name, so that a token is only served to the credentials that
    obtained it: a key file with another private key, another caller of an impersonation,
    a metadata server that claims a key file's account, or another machine sharing this
    home directory (each has its own metadata server) get their own.
    """
    if info is None:
        text = f"metadata\n{metadata_host(env)}\n{_machine(env)}"
    else:
        flat = dumps_sorted(info)
        if flat is None:
            import json

            flat = json.dumps(info, sort_keys=True)
        text = "file\n" + flat
    return _digest(text.encode("utf-8", "surrogatepass"))


def _machine(env: Mapping[str, str]) -> str:
    """This machine (pod, VM) and its current boot: a VM's account may change on restart."""
    if sys.platform == "win32":
        return env.get("COMPUTERNAME", "")
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot = f.read(64).decode("ascii", "replace").strip()
    except OSError:
        boot = ""
    return f"{os.uname().nodename}\n{boot}"


def _digest(data: bytes) -> str:
    try:
        # hashlib's own blake2b, without the 2-3 ms hashlib spends loading OpenSSL.
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - an interpreter without the builtin
        from hashlib import blake2b
    return blake2b(data, digest_size=8).hexdigest()
