"""Use case: an ID token for a service account, from the cache or a source (SPEC §1).

Sources, in order: ``--service_account_key`` or GOOGLE_APPLICATION_CREDENTIALS
(a key file), else the metadata server. With ``--impersonate_service_account``
those credentials, gcloud's ADC or a workload identity federation file call
IAM Credentials ``generateIdToken`` for the named account instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flyte_iap.cache import TokenCache, entry_name, is_fresh
from flyte_iap.config import Endpoints
from flyte_iap.console import Console
from flyte_iap.credentials_file import CredentialsFile, find_credentials_file
from flyte_iap.errors import CredentialsError, UsageError
from flyte_iap.http import HttpClient
from flyte_iap.jwt_claims import check_id_token
from flyte_iap.lookup import impersonation_target, metadata_alias_name, service_account_names
from flyte_iap.sources.callers import Caller, ExternalAccount, caller_for
from flyte_iap.sources.impersonation import generate_id_token
from flyte_iap.sources.metadata import MetadataServer
from flyte_iap.sources.service_account_key import ServiceAccountKey

# Longest a process waits for another one fetching the same token: three
# tries with their timeouts and backoff, with room to spare.
LOCK_WAIT = 60.0


@dataclass(frozen=True)
class ServiceAccountRequest:
    audience: str
    key_path: str | None = None
    impersonate: str | None = None
    refresh_margin: float = 300.0


@dataclass
class _Plan:
    """How to get the token: who it will be for (if known now) and the call to make."""

    principal: str | None
    source: str
    fetch: Callable[[str], str]
    metadata: MetadataServer | None = None


def get_service_account_token(
    request: ServiceAccountRequest,
    env: Mapping[str, str],
    cache: TokenCache,
    http: HttpClient,
    console: Console,
) -> str:
    """The cached token if it has more than the margin left, else a new one (cached)."""
    endpoints = Endpoints.from_env(env)

    def cached(name: str | None) -> str | None:
        entry = cache.load(name) if name else None
        if entry and is_fresh(entry, request.refresh_margin):
            console.debug(f"using the cached token {cache.path(name or '')}")
            return str(entry["id_token"])
        return None

    def names() -> tuple[str | None, str]:
        return service_account_names(
            request.audience, request.key_path, request.impersonate, env, cache
        )

    name, lock = names()
    token = cached(name)
    if token:
        return token
    plan = _plan(request, env, endpoints, http)
    with cache.lock(lock, LOCK_WAIT):
        # Named again: the process that held the lock may have learnt the
        # metadata server's account meanwhile.
        token = cached(names()[0])
        if token:
            return token
        console.debug(f"fetching a new token ({plan.source})")
        token = plan.fetch(request.audience)
        claims = check_id_token(token, audience=request.audience, what=plan.source)
        principal = plan.principal or claims.get("email")
        if not isinstance(principal, str) or not principal:
            principal = plan.metadata.email() if plan.metadata else "unknown"
        cache.store(
            entry_name("sa", principal, request.audience),
            {
                "kind": "service_account",
                "audience": request.audience,
                "principal": principal,
                "source": plan.source,
                "id_token": token,
                "expiry": claims["exp"],
                "fetched_at": int(time.time()),
            },
        )
        if plan.metadata:
            cache.store(metadata_alias_name(plan.metadata.host), {"email": principal})
    return token


def _plan(
    request: ServiceAccountRequest, env: Mapping[str, str], endpoints: Endpoints, http: HttpClient
) -> _Plan:
    target = request.impersonate
    if target:
        if "@" not in target:
            raise UsageError(
                f"--impersonate_service_account {target!r} is not a service-account email "
                "(like name@project.iam.gserviceaccount.com)"
            )
        file = find_credentials_file(request.key_path, env, include_well_known=True)
        caller = caller_for(file, endpoints, http, target=target)
        via = file.label if file else f"the metadata server at {endpoints.metadata_host}"
        return _impersonation_plan(target, caller, via, endpoints, http)

    file = find_credentials_file(request.key_path, env, include_well_known=False)
    if file is None:
        metadata = MetadataServer(endpoints, http)
        return _Plan(None, f"metadata server at {metadata.host}", metadata.id_token, metadata)
    if file.type == "service_account":
        key = ServiceAccountKey(file, http)
        return _Plan(key.email, f"key file {file.path}", key.id_token)
    if file.type == "external_account":
        return _federated_plan(file, endpoints, http)
    if file.type == "authorized_user":
        raise CredentialsError(
            f"{file.label} holds a person's credentials, which cannot mint a service-account "
            "token.\nUse `flyte-iap generate-user-id-token`, or add "
            "--impersonate_service_account EMAIL."
        )
    raise CredentialsError(
        f"{file.label} is of type {file.type!r}; pass a service-account key, or add "
        "--impersonate_service_account EMAIL"
    )


def _federated_plan(file: CredentialsFile, endpoints: Endpoints, http: HttpClient) -> _Plan:
    target = impersonation_target(file.info)
    if not target:
        raise CredentialsError(
            f"{file.label} is a workload identity federation file without a service account "
            "to impersonate; add --impersonate_service_account EMAIL"
        )
    caller = ExternalAccount(file, http, federated_only=True)
    return _impersonation_plan(target, caller, file.label, endpoints, http)


def _impersonation_plan(
    target: str, caller: Caller, via: str, endpoints: Endpoints, http: HttpClient
) -> _Plan:
    def impersonate(audience: str) -> str:
        return generate_id_token(http, endpoints, caller.access_token(), target, audience)

    return _Plan(target, f"impersonation of {target} via {via}", impersonate)
