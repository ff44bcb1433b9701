"""Use case: a service account's ID token, from the cache or a source.

Sources, in order: ``--service_account_key`` or GOOGLE_APPLICATION_CREDENTIALS
(a key file, or a workload identity federation file that impersonates an
account), else the metadata server. With ``--impersonate_service_account``
those credentials, gcloud's ADC or the metadata server call IAM Credentials
``generateIdToken`` for the named account instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from flyte_iap.cache import Entry, ServiceAccountEntry
from flyte_iap.google import (
    Endpoints,
    MetadataServer,
    check_id_token,
    credentials_for,
    find_credentials_file,
    source_id,
)
from flyte_iap.tokens.fresh import fresh_or_fetch
from flyte_iap.tokens.request import ServiceAccountRequest
from flyte_iap.tokens.services import Services

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flyte_iap.tokens.fresh import Fetch

# Longest a process waits for another one fetching the same token: at least this,
# and always the network budget of the holder (all its tries and backoff) plus slack,
# so a raised FLYTE_IAP_HTTP_TIMEOUT does not make waiters give up early.
LOCK_WAIT = 60.0
LOCK_SLACK = 20.0


def lock_wait(budget: float | None) -> float:
    """How long to wait for the lock, given the HTTP client's ``budget`` (seconds)."""
    return max(LOCK_WAIT, (budget or 0.0) + LOCK_SLACK)


def get_service_account_token(request: ServiceAccountRequest, services: Services) -> Entry:
    """The cached token if it has more than the margin left, else a new one (cached)."""
    env, cache = services.env, services.cache
    return fresh_or_fetch(
        cache,
        lambda: request.cache_key(env, cache),
        margin=request.refresh_margin,
        clock=services.clock,
        wait=lock_wait(services.http.budget),
        plan=lambda: _plan(request, services),
        debug=services.console.debug,
    )


def _plan(request: ServiceAccountRequest, services: Services) -> Fetch:
    """Read the credentials (no network yet) and return the fetch of the token."""
    audience, target = request.audience, request.impersonate
    endpoints = Endpoints.from_env(services.env)
    file = find_credentials_file(request.key_path, services.env, include_well_known=bool(target))
    credentials = credentials_for(file, endpoints, services.http)
    via = source_id(file.info if file else None, services.env)
    if target:
        via = file.label if file else f"the metadata server at {endpoints.metadata_host}"
        source = f"impersonation of {target} via {via}"

        def mint() -> str:
            return credentials.impersonate(target, audience)

        def principal(claims: Mapping[str, object]) -> str:
            return target
    else:
        credentials.check_can_mint()
        source = credentials.source

        def mint() -> str:
            return credentials.id_token(audience)

        def principal(claims: Mapping[str, object]) -> str:
            # The metadata server's account is only known once asked.
            email = credentials.principal or claims.get("email")
            if isinstance(email, str) and email:
                return email
            return credentials.ask_principal() or "unknown"

    def fetch(current: Entry | None) -> Entry:
        services.console.debug(f"fetching a new token ({source})")
        token = mint()
        claims = check_id_token(token, audience=audience, what=source, now=services.clock())
        entry = ServiceAccountEntry(
            audience=audience,
            principal=principal(claims),
            via=via,
            source=source,
            id_token=token,
            expiry=claims["exp"],
            fetched_at=int(services.clock()),
        )
        if not target and isinstance(credentials, MetadataServer):
            services.cache.remember_metadata_email(via, entry.principal)
        return entry

    return fetch
