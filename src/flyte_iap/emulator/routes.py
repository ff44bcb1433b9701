"""The route table: (method, path pattern, endpoint name, handler)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from flyte_iap.emulator import consent, gcp, oauth
from flyte_iap.emulator.wire import Context, Request, Response

Handler = Callable[[Context, Request, "re.Match[str]"], Response]

_SA = r"/v1/projects/-/serviceAccounts/(?P<email>[^/:]+)"
_MD_SA = r"/computeMetadata/v1/instance/service-accounts/(?P<account>[^/]+)"
_SECRET = (
    r"/v1/projects/(?P<project>[^/]+)/secrets/(?P<name>[^/]+)/versions/(?P<version>[^/:]+):access"
)


class Route(NamedTuple):
    """One endpoint: ``name`` is what ``count`` and ``fail_next`` refer to."""

    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler


def _route(method: str, pattern: str, name: str, handler: Handler) -> Route:
    return Route(method, re.compile(pattern), name, handler)


ROUTES: tuple[Route, ...] = (
    _route("POST", r"/token", "token", oauth.token),
    _route("POST", r"/sts/v1/token", "sts", oauth.sts_token),
    _route("POST", r"/revoke", "revoke", oauth.revoke),
    _route("GET", r"/oauth2/v1/certs", "certs", gcp.certs),
    _route("GET", r"/iap/verify/public_key", "iap_keys", gcp.iap_public_key),
    _route("GET", r"/iap/verify/public_key-jwk", "iap_keys", gcp.iap_public_key_jwk),
    _route("GET", r"/o/oauth2/v2/auth", "auth", consent.auth_page),
    _route("POST", r"/o/oauth2/v2/auth/decision", "consent", consent.decision),
    _route("GET", _SECRET, "secret", gcp.secret_access),
    _route("POST", _SA + r":generateIdToken", "iam_id_token", gcp.generate_id_token),
    _route("POST", _SA + r":generateAccessToken", "iam_access_token", gcp.generate_access_token),
    _route("GET", r"/", "metadata_other", gcp.metadata_ping),
    _route("GET", _MD_SA + r"/identity", "metadata_identity", gcp.metadata_identity),
    _route("GET", _MD_SA + r"/email", "metadata_email", gcp.metadata_email),
    _route("GET", _MD_SA + r"/token", "metadata_token", gcp.metadata_token),
    _route("GET", _MD_SA + r"/?", "metadata_other", gcp.metadata_account),
    _route(
        "GET", r"/computeMetadata/v1/project/project-id", "metadata_other", gcp.metadata_project_id
    ),
    _route("GET", r"/computeMetadata/.*", "metadata_other", gcp.metadata_not_found),
)

ENDPOINT_NAMES: frozenset[str] = frozenset(route.name for route in ROUTES)

# Injected failures look like the real endpoint's errors: flat OAuth bodies, HTML, or text.
OAUTH_ENDPOINTS = frozenset({"token", "sts", "revoke"})
PAGE_ENDPOINTS = frozenset({"auth", "consent"})


def find(method: str, path: str) -> tuple[Route, re.Match[str]] | None:
    """The route for this method and path, with its match; None when there is none."""
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match is not None and route.method == method:
            return route, match
    return None


def path_exists(path: str) -> bool:
    """True when some method serves ``path`` (so a miss is 405, not 404)."""
    return any(route.pattern.fullmatch(path) for route in ROUTES)
