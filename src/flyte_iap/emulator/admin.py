"""``/_emulator/...``: the admin operations, for tests that run the emulator as a process."""

from __future__ import annotations

from . import routes
from .state import Fault
from .wire import Context, Request, Response, api_error, json_response


def handle(ctx: Context, req: Request) -> Response:
    """Answer an admin request; these are neither counted nor subject to faults."""
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


def _fail(ctx: Context, req: Request) -> Response:
    endpoint, status = req.json.get("endpoint"), req.json.get("status")
    count, delay = req.json.get("count", 1), req.json.get("delay", 0.0)
    body = req.json.get("body")
    if endpoint not in routes.ENDPOINT_NAMES or not isinstance(endpoint, str):
        return api_error(400, f"endpoint must be one of {sorted(routes.ENDPOINT_NAMES)}")
    if not isinstance(status, int) or not isinstance(count, int):
        return api_error(400, "status and count must be integers")
    if not isinstance(delay, int | float) or not (body is None or isinstance(body, dict)):
        return api_error(400, "delay must be a number and body an object")
    ctx.state.add_fault(endpoint, Fault(status, count, float(delay), body))
    return json_response(200, {})
