"""The URL prefixes flyteconsole and flyteadmin serve, shared by render and check.

They follow the plugin's deployment guide, which mirrors the flyte-core
chart's nginx ingress. Istio ``prefix`` matches are literal strings, so the
guide's nginx-style ``/v1/*`` is written here as ``/v1/``.
"""

from __future__ import annotations

CONSOLE_PREFIXES: tuple[str, ...] = ("/console",)

ADMIN_HTTP_PREFIXES: tuple[str, ...] = (
    "/api",
    "/healthcheck",
    "/v1/",
    "/.well-known",
    "/login",
    "/logout",
    "/callback",
    "/me",
    "/config",
    "/oauth2",
)

# gRPC calls arrive as POST /<package>.<Service>/<Method>; flytectl and
# flytekit need all of these on flyteadmin's gRPC port.
ADMIN_GRPC_PREFIXES: tuple[str, ...] = (
    "/flyteidl.service.SignalService",
    "/flyteidl.service.AdminService",
    "/flyteidl.service.DataProxyService",
    "/flyteidl.service.AuthMetadataService",
    "/flyteidl.service.IdentityService",
    "/grpc.health.v1.Health",
)
