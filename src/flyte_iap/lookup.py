"""Finding a cached token with no network and no heavy imports.

Used twice: by the fast path in ``cli.main`` before click is even imported,
and by the use cases before and after they take the cache lock. Keeping the
naming of cache entries here, in one place, is what lets both agree.
"""

from __future__ import annotations

import json
import os

from flyte_iap.cache import TokenCache, entry_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_METADATA_HOST = "metadata.google.internal"
_IMPERSONATION_SUFFIX = ":generateAccessToken"


def impersonation_target(info: Mapping[str, object]) -> str | None:
    """The service account an ``external_account`` file impersonates, if any."""
    url = info.get("service_account_impersonation_url")
    if not isinstance(url, str) or not url.endswith(_IMPERSONATION_SUFFIX):
        return None
    _, sep, email = url[: -len(_IMPERSONATION_SUFFIX)].rpartition("/serviceAccounts/")
    return email if sep and email and "/" not in email else None


def user_entry_name(desktop_client_id: str, audience: str) -> str:
    """The entry of a person's login with one desktop client, for one IAP audience."""
    return entry_name("user", desktop_client_id, audience)


def metadata_alias_name(host: str) -> str:
    """The entry that remembers which service account a metadata server speaks for."""
    return entry_name("metadata", host)


def service_account_names(
    audience: str,
    key_path: str | None,
    impersonate: str | None,
    env: Mapping[str, str],
    cache: TokenCache,
) -> tuple[str | None, str]:
    """(entry name, lock name) for a service-account token.

    The entry name is None when the principal cannot be known without asking
    the network (a metadata server not seen before); the lock name is always
    known, so concurrent processes still queue on one lock.
    """
    if impersonate:
        name = entry_name("sa", impersonate, audience)
        return name, name
    path = key_path or env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        principal = _principal_of_file(path)
        name = entry_name("sa", principal or os.path.abspath(path), audience)
        return (name if principal else None), name
    host = env.get("GCE_METADATA_HOST") or DEFAULT_METADATA_HOST
    alias = cache.load(metadata_alias_name(host))
    email = alias.get("email") if alias else None
    lock = entry_name("sa-metadata", host, audience)
    return (entry_name("sa", email, audience) if isinstance(email, str) else None), lock


def _principal_of_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    if info.get("type") == "service_account":
        email = info.get("client_email")
        return email if isinstance(email, str) and email else None
    if info.get("type") == "external_account":
        return impersonation_target(info)
    return None
