"""``/_emulator/...``: the admin operations, for tests that run the emulator as a process.

Only the emulator's own clients may use them: a web page the developer happens to
have open must not inject faults, revoke keys or mint refresh tokens, neither by a
cross-site "simple" POST nor through DNS rebinding.
"""

from __future__ import annotations

from flyte_iap.emulator import routes
from flyte_iap.emulator.records import checked_fault
from flyte_iap.emulator.wire import (
    Context,
    Request,
    Response,
    api_error,
    json_response,
    own_hosts,
    own_origins,
)

# Fetch metadata a browser sends; anything else is another site (or a nested frame).
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})
_SHOWN = 100  # how much of a refused header value an error repeats


def handle(ctx: Context, req: Request) -> Response:
    """Answer an admin request; these are neither counted nor subject to faults."""
    refusal = _refusal(ctx, req)
    if refusal is not None:
        return refusal
    if req.method == "GET" and req.path == "/_emulator/stats":
        return json_response(200, {"counts": ctx.state.counts_snapshot()})
    if req.method == "POST" and req.path == "/_emulator/fail":
        return _fail(ctx, req)
    if req.method == "POST" and req.path == "/_emulator/revoke-key":
        try:
            ctx.state.revoke_sa_key(req.param("key_id"))
        except KeyError as exc:
            return api_error(404, str(exc.args[0]))
        return json_response(200, {})
    if req.method == "POST" and req.path == "/_emulator/refresh-token":
        email = req.param("email") or ctx.config.user_email
        client_id = req.param("client_id") or ctx.config.desktop_client_id
        token = ctx.state.add_refresh_grant(email, client_id, "openid email")
        return json_response(200, {"refresh_token": token})
    return api_error(404, f"Unknown admin operation: {req.method} {req.path}")


def _refusal(ctx: Context, req: Request) -> Response | None:
    """A 403/415 for a request that may come from a web page rather than a test; else None.

    A rebound DNS name shows in ``Host``; a page on another origin shows in ``Origin``
    or ``Sec-Fetch-Site``. A form (or a no-cors fetch) can only send a urlencoded,
    multipart or text/plain body, so requiring JSON also forces a CORS preflight, which
    this server does not answer.
    """
    hosts = own_hosts(ctx.base_url)
    host = req.header("Host").lower()
    if host not in hosts:
        return api_error(
            403,
            f"Admin requests must be sent to {ctx.base_url} (Host 127.0.0.1 or localhost "
            f"with its port), not Host {host[:_SHOWN]!r}.",
        )
    origin = req.header("Origin").lower()
    if origin and origin not in own_origins(ctx.base_url):
        return api_error(
            403, f"Cross-origin admin requests are refused: Origin {origin[:_SHOWN]!r}."
        )
    site = req.header("Sec-Fetch-Site").lower()
    if site and site not in _OWN_FETCH_SITES:
        return api_error(
            403, f"Cross-site admin requests are refused: Sec-Fetch-Site {site[:_SHOWN]!r}."
        )
    media_type = req.header("Content-Type").partition(";")[0].strip().lower()
    if req.method != "GET" and media_type != "application/json":
        return api_error(
            415, "Admin requests that change state need Content-Type: application/json."
        )
    return None


def _fail(ctx: Context, req: Request) -> Response:
    endpoint = req.json.get("endpoint")
    if not isinstance(endpoint, str) or endpoint not in routes.ENDPOINT_NAMES:
        return api_error(400, f"endpoint must be one of {sorted(routes.ENDPOINT_NAMES)}")
    try:
        fault = checked_fault(
            req.json.get("status"),
            req.json.get("count", 1),
            req.json.get("delay", 0.0),
            req.json.get("body"),
        )
    except ValueError as exc:
        return api_error(400, str(exc))
    ctx.state.add_fault(endpoint, fault)
    return json_response(200, {})
