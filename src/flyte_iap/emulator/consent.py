"""The authorization endpoint: the consent page and the user's decision."""

from __future__ import annotations

import html
import re
import urllib.parse

from flyte_iap.emulator.records import AuthRequest
from flyte_iap.emulator.wire import Context, Request, Response, own_origins, redirect, text_response

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - Google Accounts (emulator)</title></head>
<body>
<h1>{client} wants to access your Google Account</h1>
<p id="account">{email}</p>
<p>Requested scopes: <code>{scope}</code></p>
<form method="post" action="/o/oauth2/v2/auth/decision">
<input type="hidden" name="request_id" value="{request_id}">
<button id="deny" name="decision" value="deny" type="submit">Deny</button>
<button id="allow" name="decision" value="allow" type="submit">Allow</button>
</form>
</body></html>
"""


def _error_page(error: str, description: str) -> Response:
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>Error</title></head><body>'
        f"<h1>Error 400: {html.escape(error)}</h1><p>{html.escape(description)}</p></body></html>"
    )
    return text_response(400, body, "text/html")


def _allowed_redirect(uri: str) -> bool:
    """Whether Google takes ``uri`` as a desktop client's redirect: http to a loopback host."""
    parts = urllib.parse.urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS


def _validate(ctx: Context, req: Request) -> tuple[str, str] | None:
    """The (error, description) that stops this request, or None when it is acceptable."""
    client_id = req.param("client_id")
    if not ctx.state.client_known(client_id):
        return "invalid_client", f"The OAuth client was not found: {client_id!r}."
    if not _allowed_redirect(req.param("redirect_uri")):
        return "redirect_uri_mismatch", (
            "redirect_uri must be a loopback address (http://127.0.0.1:PORT/ or "
            f"http://localhost:PORT/), not {req.param('redirect_uri')!r}."
        )
    if req.param("response_type") != "code":
        return "unsupported_response_type", "response_type must be 'code'."
    if "openid" not in req.param("scope").split():
        return "invalid_scope", "scope must include 'openid'."
    if not req.param("code_challenge") or req.param("code_challenge_method") != "S256":
        return "invalid_request", "PKCE is required: code_challenge, code_challenge_method=S256."
    return None


def _redirect_with(uri: str, params: dict[str, str]) -> Response:
    separator = "&" if urllib.parse.urlsplit(uri).query else "?"
    return redirect(uri + separator + urllib.parse.urlencode(params))


def _approve(ctx: Context, request: AuthRequest) -> Response:
    code = ctx.state.add_auth_code(request, ctx.config.user_email)
    params = {"code": code, "scope": request.scope}
    if request.state:
        params["state"] = request.state
    return _redirect_with(request.redirect_uri, params)


def auth_page(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """GET the consent page (or, with auto_approve, the redirect with a code)."""
    problem = _validate(ctx, req)
    if problem:
        return _error_page(*problem)
    request = AuthRequest(
        client_id=req.param("client_id"),
        redirect_uri=req.param("redirect_uri"),
        state=req.param("state"),
        code_challenge=req.param("code_challenge"),
        nonce=req.param("nonce"),
        scope=req.param("scope"),
    )
    if ctx.config.auto_approve:
        return _approve(ctx, request)
    request_id = ctx.state.add_auth_request(request)
    page = _PAGE.format(
        client=html.escape(request.client_id),
        email=html.escape(ctx.config.user_email),
        scope=html.escape(request.scope),
        request_id=html.escape(request_id),
    )
    return text_response(200, page, "text/html")


def decision(ctx: Context, req: Request, match: re.Match[str]) -> Response:
    """POST from the consent page: redirect back with a code, or with access_denied.

    The request id in the form is a secret of the page, so another site cannot forge a
    decision; a form posted from another origin is refused all the same, as Google does."""
    origin = req.header("Origin").lower()
    if origin and origin not in own_origins(ctx.base_url):
        return _error_page("invalid_request", "The consent decision came from another site.")
    request = ctx.state.pop_auth_request(req.param("request_id"))
    if request is None:
        return _error_page("invalid_request", "This consent request expired or was answered.")
    if req.param("decision") == "allow":
        return _approve(ctx, request)
    params = {"error": "access_denied"}
    if request.state:
        params["state"] = request.state
    return _redirect_with(request.redirect_uri, params)
