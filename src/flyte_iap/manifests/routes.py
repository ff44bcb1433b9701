"""The URL paths Flyte serves, shared by render and check.

Flyte 1's follow the plugin's deployment guide, which mirrors the flyte-core
chart's nginx ingress. Istio ``prefix`` matches are literal strings, so the
guide's nginx-style ``/v1/*`` is written here as ``/v1/``. Flyte 2's follow the
flyte-binary v2 chart and the backend it deploys: what is public, and what the
backend serves on the same port for task pods only.
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

# Flyte 2: the public API of the flyte-binary v2 chart, `flyte-binary.ingress.apiPaths`
# in its templates/_helpers.tpl. Connect, gRPC and gRPC-Web calls all arrive as
# POST /<package>.<Service>/<Method>, so the prefix ends with the slash: it cannot
# match a longer service name.
FLYTE2_API_SERVICES: tuple[str, ...] = (
    "flyteidl2.workflow.RunService",
    "flyteidl2.workflow.RunLogsService",
    "flyteidl2.task.TaskService",
    "flyteidl2.workflow.TranslatorService",
    "flyteidl2.dataproxy.DataProxyService",
    "flyteidl2.cluster.ClusterService",
    "flyteidl2.secret.SecretService",
    "flyteidl2.project.ProjectService",
    "flyteidl2.app.AppService",
    "flyteidl2.app.AppLogsService",
    "flyteidl2.trigger.TriggerService",
    "flyteidl2.auth.IdentityService",
    "flyteidl2.settings.SettingsService",
)
FLYTE2_API_PREFIXES: tuple[str, ...] = tuple(f"/{service}/" for service in FLYTE2_API_SERVICES)

# The console (flyteconsole v2) is served under `console.basePath`.
FLYTE2_CONSOLE_PATH = "/v2"

# What the backend serves on the same port (8090) that must never be routed from
# outside, as registered by the `*/setup.go` files of flyteorg/flyte v2.0.43 and
# flytestdlib/app/app.go: the services task pods call (their methods listed, so that a
# hand-written regex is tried against real paths), the data plane's app service under
# /internal, the auth server's discovery (only for a backend that is its own
# authorization server; IAP is ours), and the probes.
FLYTE2_INTERNAL_SERVICES: dict[str, tuple[str, ...]] = {
    "/flyteidl2.actions.ActionsService/": (
        "Enqueue",
        "WatchForUpdates",
        "Update",
        "Abort",
        "Signal",
    ),
    "/flyteidl2.workflow.InternalRunService/": (
        "RecordAction",
        "RecordActionStream",
        "UpdateActionStatus",
        "UpdateActionStatusStream",
        "RecordActionEvents",
        "RecordActionEventStream",
    ),
    "/flyteidl2.workflow.EventsProxyService/": ("Record",),
    "/flyteidl2.cacheservice.v2.CacheService/": (
        "Get",
        "Put",
        "Delete",
        "GetOrExtendReservation",
        "ReleaseReservation",
    ),
    "/internal/flyteidl2.app.AppService/": (
        "Create",
        "Get",
        "Update",
        "UpdateStatus",
        "Delete",
        "List",
        "Watch",
        "Lease",
    ),
    "/internal/flyteidl2.app.AppLogsService/": ("TailLogs",),
    "/flyteidl2.auth.AuthMetadataService/": ("GetOAuth2Metadata", "GetPublicClientConfig"),
}
FLYTE2_INTERNAL_HTTP_PATHS: tuple[str, ...] = (
    "/.well-known/oauth-authorization-server",
    "/healthz",
    "/readyz",
)
FLYTE2_INTERNAL_PATHS: tuple[str, ...] = (
    *(
        prefix + method
        for prefix, methods in FLYTE2_INTERNAL_SERVICES.items()
        for method in methods
    ),
    *FLYTE2_INTERNAL_HTTP_PATHS,
)
