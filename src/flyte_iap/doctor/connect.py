"""Check 7 for Flyte 2: the backend answers a Connect call through IAP, and says whom it
sees the caller as.

``IdentityService/UserInfo`` is what ``flyte whoami`` asks: the backend answers with the
identity it reads from the headers the proxy in front sets (for IAP, its signed
``X-Goog-IAP-JWT-Assertion``), the same identity it records as the one who ran a run. So
this check shows a team that runs will be attributed to the right person, or that the
backend's identity headers are not IAP's. A backend without ``IdentityService`` is asked
``ProjectService/ListProjects`` instead. Connect's unary protocol in JSON: ``POST`` a
JSON body; an error is a non-200 answer with a JSON ``{"code", "message"}``.
"""

from __future__ import annotations

from typing import Any

from flyte_iap.doctor.check import Check, fail, ok, redacted
from flyte_iap.doctor.iap import FLYTE2, Probe
from flyte_iap.errors import FlyteIapError, shown
from flyte_iap.flyteconfig import Endpoint
from flyte_iap.transport import HttpClient, Response

NAME = "backend"
LIST_PROJECTS = Probe(
    "POST",
    "/flyteidl2.project.ProjectService/ListProjects",
    FLYTE2.token_header,
    b"{}",
    FLYTE2.headers,
)
IDENTITY_HEADERS = (
    "set the backend's flyte-core-components.runs.identityHeaders to IAP's signed header: "
    "claimsJwtHeader: X-Goog-IAP-JWT-Assertion, subjectHeader and emailHeader empty "
    "(flyte-iap manifests render --flyte 2 writes them)"
)
_ROUTES = "route the backend's public API to it (flyte-iap manifests render --flyte 2, check)"


def backend_check(
    response: Response,
    claims: dict[str, Any],
    *,
    endpoint: Endpoint,
    http: HttpClient,
    token: str,
) -> Check:
    """Check 7 on the answer to ``IdentityService/UserInfo`` that passed IAP (check 6).
    ``claims`` are the token's, to compare whom the backend sees with whom IAP let in."""
    if response.ok:
        return _seen_as(response, claims)
    code, message = _connect_error(response)
    if response.status in (502, 503, 504):
        detail = f"UserInfo answered {response.status}: {message or response.kind()}"
        fix = (
            "IAP let the request in, but the backend did not answer: is it running and "
            "healthy? (kubectl get pods; the backend service's health check)"
        )
        return fail(NAME, detail, fix)
    if code == "unauthenticated":
        detail = "the backend sees no caller (UserInfo: unauthenticated): it reads no identity"
        return fail(NAME, detail, IDENTITY_HEADERS)
    if code == "unimplemented":
        return _projects(endpoint, http, token)
    said = f"{code}: {message}" if code else response.kind()
    detail = f"UserInfo answered {response.status} ({said})"
    return fail(NAME, detail, _ROUTES)


def _seen_as(response: Response, claims: dict[str, Any]) -> Check:
    try:
        body = response.json()
    except ValueError:
        body = None
    subject = body.get("subject") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(subject, str) or not subject:
        detail = f"UserInfo answered with {response.kind()}, not the caller's identity"
        return fail(NAME, detail, _ROUTES)
    email = body.get("email") if isinstance(body.get("email"), str) else ""
    token_email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    who = shown(email or subject, 80)
    if token_email and email and email.lower() != token_email.lower():
        detail = (
            f"the backend sees the caller as {who}, but IAP let in {shown(token_email, 80)}: "
            "runs would be attributed to someone else"
        )
        return fail(NAME, detail, IDENTITY_HEADERS)
    return ok(NAME, f"the backend sees the caller as {who}: runs are attributed to them")


def _projects(endpoint: Endpoint, http: HttpClient, token: str) -> Check:
    try:
        response = LIST_PROJECTS.send(endpoint, http, token)
    except FlyteIapError as exc:
        return fail(NAME, shown(exc), _ROUTES)
    if not response.ok:
        code, message = _connect_error(response)
        detail = f"ListProjects answered {response.status} ({code or response.kind()})"
        return fail(NAME, f"{detail}: {message}" if message else detail, _ROUTES)
    return ok(NAME, "ProjectService answered; this backend has no IdentityService to ask "
              "whom it sees the caller as")  # fmt: skip


def _connect_error(response: Response) -> tuple[str, str]:
    """(code, message) of a Connect error answer, made safe to print; ("", "") if none."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    code, message = body.get("code"), body.get("message")
    code = shown(code, 40) if isinstance(code, str) and code.isascii() else ""
    return code, redacted(message, 120) if isinstance(message, str) else ""
