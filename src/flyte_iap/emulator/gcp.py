"""Google Cloud APIs the tool calls: Secret Manager, IAM Credentials, the metadata server;
and the keys that verify what Google signs (ID tokens, IAP's signed headers)."""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Callable

from flyte_iap.emulator.wire import (
    Context,
    Request,
    Response,
    api_error,
    json_response,
    text_response,
    unauthenticated,
)

Handler = Callable[[Context, Request, "re.Match[str]"], Response]

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def certs(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """GET /oauth2/v1/certs: {kid: PEM certificate} of the key that signs ID tokens."""
    key = ctx.minter.issuer_key
    return json_response(200, {key.kid: key.certificate_pem()})


def iap_public_key(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """GET /iap/verify/public_key: {kid: PEM public key} of IAP's assertion key."""
    return json_response(200, {ctx.iap_key.kid: ctx.iap_key.public_key_pem()})


def iap_public_key_jwk(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """GET /iap/verify/public_key-jwk: the same key as a JWK set."""
    return json_response(200, {"keys": [ctx.iap_key.jwk()]})


def _authenticated(ctx: Context, req: Request) -> bool:
    return ctx.state.access_grant(req.bearer_token()) is not None


def secret_access(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """GET /v1/projects/P/secrets/NAME/versions/V:access."""
    if not _authenticated(ctx, req):
        return unauthenticated()
    project, name, version = match["project"], match["name"], match["version"]
    secret_path = f"projects/{project}/secrets/{name}"
    found = project == ctx.config.project and name == ctx.config.desktop_secret_name
    if not found or version not in ("latest", "1"):
        return api_error(404, f"Secret [{secret_path}] not found or has no versions.")
    data = base64.b64encode(ctx.config.desktop_client_secret.encode("utf-8")).decode("ascii")
    return json_response(200, {"name": f"{secret_path}/versions/1", "payload": {"data": data}})


def _target(ctx: Context, req: Request, match: re.Match[str]) -> Response | str:
    """The impersonated service account's email, or the error response."""
    if not _authenticated(ctx, req):
        return unauthenticated()
    email = match["email"]
    if email not in ctx.config.known_service_accounts():
        return api_error(404, f"Not found; Gaia id not found for email {email}")
    return email


def generate_id_token(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """POST serviceAccounts/EMAIL:generateIdToken {"audience", "includeEmail"}."""
    email = _target(ctx, req, match)
    if isinstance(email, Response):
        return email
    audience = req.json.get("audience")
    if not isinstance(audience, str) or not audience:
        return api_error(400, "Request contains an invalid argument: audience is required.")
    include_email = req.json.get("includeEmail") is True
    token = ctx.minter.service_account_id_token(email, audience, include_email)
    return json_response(200, {"token": token})


def generate_access_token(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """POST serviceAccounts/EMAIL:generateAccessToken {"scope": [...], "lifetime"}."""
    email = _target(ctx, req, match)
    if isinstance(email, Response):
        return email
    scope = req.json.get("scope")
    if not isinstance(scope, list) or not scope:
        return api_error(400, "Request contains an invalid argument: scope is required.")
    body = ctx.minter.access_token(email, " ".join(str(s) for s in scope))
    expiry = datetime.datetime.fromtimestamp(ctx.state.clock() + body["expires_in"], datetime.UTC)
    expire_time = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json_response(200, {"accessToken": body["access_token"], "expireTime": expire_time})


# --- metadata server -------------------------------------------------------------


def _metadata(handler: Handler) -> Handler:
    """Refuse requests without ``Metadata-Flavor: Google``, as the real server does."""

    def guarded(ctx: Context, req: Request, match: re.Match[str]) -> Response:
        if req.header("Metadata-Flavor") != "Google":
            return text_response(403, "Missing required header: Metadata-Flavor: Google\n")
        account = match.groupdict().get("account")
        if account is not None and account not in ("default", ctx.config.metadata_email):
            return text_response(404, f"Service account {account} not found on this instance.\n")
        return handler(ctx, req, match)

    return guarded


def metadata_ping(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """GET /: google-auth's liveness probe (it checks the Metadata-Flavor reply header)."""
    return text_response(200, "ok")


@_metadata
def metadata_identity(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    audience = req.query.get("audience", "")
    if not audience:
        return text_response(400, "non-empty audience parameter required\n")
    email = ctx.config.metadata_email
    return text_response(200, ctx.minter.service_account_id_token(email, audience))


@_metadata
def metadata_email(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    return text_response(200, ctx.config.metadata_email)


@_metadata
def metadata_token(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    scopes = req.query.get("scopes", "").replace(",", " ") or CLOUD_PLATFORM_SCOPE
    return json_response(200, ctx.minter.access_token(ctx.config.metadata_email, scopes))


@_metadata
def metadata_account(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    if req.query.get("recursive") == "true":
        info = {
            "email": ctx.config.metadata_email,
            "aliases": ["default"],
            "scopes": [CLOUD_PLATFORM_SCOPE],
        }
        return json_response(200, info)
    return text_response(200, "aliases\nemail\nidentity\nscopes\ntoken\n")


@_metadata
def metadata_project_id(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    return text_response(200, ctx.config.project)


@_metadata
def metadata_not_found(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    return text_response(404, f"Metadata path not found: {req.path}\n")
