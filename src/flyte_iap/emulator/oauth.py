"""Google's OAuth 2.0 token endpoint, the revocation endpoint and STS."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import urllib.parse
from typing import Any

from flyte_iap.emulator.keys import JwtError, b64url_encode, parse_jwt, verify_signature
from flyte_iap.emulator.wire import Context, Request, Response, json_response, oauth_error

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
_SUBJECT_TOKEN_TYPES = frozenset(
    {"urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"}
)
# Google refuses assertions living longer than an hour; allow a little clock skew.
_MAX_ASSERTION_LIFETIME = 3600
_CLOCK_SKEW = 60
# google-auth signs every assertion for Google's production token URI, whatever URI it
# posts to, and Google accepts its own aliases; so those pass the audience check too.
_GOOGLE_TOKEN_AUDIENCES = frozenset(
    {"https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token"}
)

_BAD_SIGNATURE = "Invalid JWT Signature."
_BAD_TIMES = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)
_EXPIRED_REFRESH = "Token has been expired or revoked."


def token(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """POST /token, dispatched by grant_type."""
    grant_type = req.param("grant_type")
    if grant_type == JWT_BEARER:
        return _jwt_bearer(ctx, req)
    if grant_type == "refresh_token":
        return _refresh(ctx, req)
    if grant_type == "authorization_code":
        return _authorization_code(ctx, req)
    if not grant_type:
        return oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
    return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _jwt_bearer(ctx: Context, req: Request) -> Response:
    assertion = req.param("assertion")
    try:
        header, claims = parse_jwt(assertion)
    except JwtError as exc:
        return oauth_error(400, "invalid_request", f"Invalid JWT: {exc}.")
    issuer = str(claims.get("iss", ""))
    keys = ctx.state.verification_keys(str(header.get("kid") or ""), issuer)
    signed = header.get("alg") == "RS256" and any(
        key.email == issuer and verify_signature(assertion, key.public_key) for key in keys
    )
    if not signed:
        return oauth_error(400, "invalid_grant", _BAD_SIGNATURE)
    if claims.get("aud") not in {ctx.token_uri, *_GOOGLE_TOKEN_AUDIENCES}:
        return oauth_error(
            400, "invalid_grant", f"Invalid JWT: Failed audience check. Expected {ctx.token_uri}."
        )
    if not _times_ok(claims, ctx.state.clock()):
        return oauth_error(400, "invalid_grant", _BAD_TIMES)
    target_audience = claims.get("target_audience")
    if isinstance(target_audience, str) and target_audience:
        id_token = ctx.minter.service_account_id_token(issuer, target_audience)
        return json_response(200, {"id_token": id_token})
    scope = claims.get("scope")
    if isinstance(scope, str) and scope:
        return json_response(200, ctx.minter.access_token(issuer, scope))
    return oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")


def _times_ok(claims: dict[str, Any], now: float) -> bool:
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        return False
    return exp > now and iat <= now + _CLOCK_SKEW and exp - iat <= _MAX_ASSERTION_LIFETIME


def _client_credentials(req: Request) -> tuple[str, str]:
    """client_id and client_secret from the body, or from HTTP Basic authentication."""
    client_id, secret = req.param("client_id"), req.param("client_secret")
    scheme, _, value = req.header("Authorization").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return client_id, secret
        user, _, password = decoded.partition(":")
        return urllib.parse.unquote(user), urllib.parse.unquote(password)
    return client_id, secret


def _client_error() -> Response:
    return oauth_error(401, "invalid_client", "Unauthorized")


def _user_tokens(
    ctx: Context, email: str, client_id: str, audience: str, scope: str, nonce: str = ""
) -> dict[str, Any]:
    body = ctx.minter.access_token(email, scope)
    body["scope"] = scope
    body["id_token"] = ctx.minter.id_token(
        audience=audience or client_id, email=email, azp=client_id, nonce=nonce
    )
    return body


def _refresh(ctx: Context, req: Request) -> Response:
    refresh_token = req.param("refresh_token")
    if not refresh_token:
        return oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
    client_id, secret = _client_credentials(req)
    if not ctx.state.client_secret_ok(client_id, secret):
        return _client_error()
    grant = ctx.state.refresh_grant(refresh_token)
    if grant is None:
        return oauth_error(400, "invalid_grant", _EXPIRED_REFRESH)
    if grant.client_id != client_id:
        return oauth_error(400, "unauthorized_client", "Unauthorized")
    body = _user_tokens(ctx, grant.email, client_id, req.param("audience"), grant.scope)
    return json_response(200, body)


def _authorization_code(ctx: Context, req: Request) -> Response:
    client_id, secret = _client_credentials(req)
    if not ctx.state.client_secret_ok(client_id, secret):
        return _client_error()
    code = ctx.state.redeem_auth_code(req.param("code"))
    if code is None:
        return oauth_error(400, "invalid_grant", "Malformed auth code.")
    request = code.request
    if request.client_id != client_id:
        return oauth_error(400, "invalid_grant", "The code was issued to another client.")
    if request.redirect_uri != req.param("redirect_uri"):
        return oauth_error(400, "invalid_grant", "redirect_uri differs from the one authorized.")
    verifier = req.param("code_verifier")
    if not verifier:
        return oauth_error(400, "invalid_grant", "Missing code verifier.")
    challenge = b64url_encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    if not secrets.compare_digest(challenge, request.code_challenge):
        return oauth_error(400, "invalid_grant", "Invalid code verifier.")
    body = _user_tokens(
        ctx, code.email, client_id, req.param("audience"), request.scope, request.nonce
    )
    body["refresh_token"] = ctx.state.add_refresh_grant(code.email, client_id, request.scope)
    return json_response(200, body)


def revoke(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """POST /revoke token=...: revokes a refresh (or access) token."""
    if ctx.state.revoke_token(req.param("token")):
        return json_response(200, {})
    return oauth_error(400, "invalid_token", "Token expired or revoked")


def sts_token(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """POST /sts/v1/token: RFC 8693 token exchange for workload identity federation."""
    if req.param("grant_type") != TOKEN_EXCHANGE:
        return oauth_error(400, "unsupported_grant_type", f"grant_type must be {TOKEN_EXCHANGE}.")
    subject_token, audience = req.param("subject_token"), req.param("audience")
    if not subject_token or not audience:
        return oauth_error(400, "invalid_request", "subject_token and audience are required.")
    if req.param("subject_token_type") not in _SUBJECT_TOKEN_TYPES:
        return oauth_error(400, "invalid_request", "Invalid subject_token_type.")
    if not ctx.state.subject_token_known(subject_token):
        return oauth_error(400, "invalid_grant", "The subject token is not valid.")
    principal = f"principal:{audience}"
    body = ctx.minter.access_token(principal, req.param("scope"), prefix="emu-fed")
    body["issued_token_type"] = ACCESS_TOKEN_TYPE
    return json_response(200, body)
