"""`manifests render --flyte 2` against the real flyte-binary v2 chart.

The chart (tests/charts, see SOURCES.md there) is rendered with Helm's own Go SDK
(helm-python-sdk) and the values `render` writes, for the default release and for one
whose name lacks "flyte-binary". Every route must point at a Service and port the chart
creates; walking Istio's first-match order, every public API call must reach the API
Service, the console's paths the console, and every path the backend serves to task
pods only must reach nothing. The paths come from the backend's source at the chart's
tag (flyteorg/flyte v2.0.43: the connect-go handlers mounted by `*/setup.go`, the probes
of flytestdlib/app/app.go), written out here rather than taken from the code under test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from flyte_iap.errors import ManifestError
from flyte_iap.manifests import RenderOptions, render
from flyte_iap.manifests.names import check_release, flyte_binary_fullname
from flyte_iap.manifests.routes import FLYTE2_API_SERVICES, FLYTE2_INTERNAL_PATHS

CHART = Path(__file__).resolve().parents[1] / "charts" / "flyte-binary-v2.0.43"
DOMAIN = "flyte.example.com"
NAMESPACE = "flyte"

# Served to anyone who passes IAP: method paths of the public services at v2.0.43.
PUBLIC = {
    "flyteidl2.workflow.RunService": [
        "CreateRun", "AbortRun", "GetRunDetails", "WatchRunDetails", "GetActionDetails",
        "WatchActionDetails", "GetActionData", "ListRuns", "WatchRuns", "ListActions",
        "WatchActions", "WatchClusterEvents", "AbortAction", "SignalEvent", "WatchGroups",
        "GetActionDataURIs", "GetActionLogContext",
    ],
    "flyteidl2.workflow.RunLogsService": ["TailLogs"],
    "flyteidl2.task.TaskService": ["DeployTask", "GetTaskDetails", "ListTasks", "ListVersions"],
    "flyteidl2.workflow.TranslatorService": [
        "LiteralsToLaunchFormJson", "LaunchFormJsonToLiterals", "TaskSpecToLaunchFormJson",
        "JsonValuesToLiterals",
    ],
    "flyteidl2.dataproxy.DataProxyService": [
        "CreateUploadLocation", "UploadInputs", "CreateDownloadLink", "GetActionData", "TailLogs",
    ],
    "flyteidl2.cluster.ClusterService": ["SelectCluster"],
    "flyteidl2.secret.SecretService": [
        "CreateSecret", "UpdateSecret", "GetSecret", "DeleteSecret", "ListSecrets",
    ],
    "flyteidl2.project.ProjectService": [
        "CreateProject", "UpdateProject", "GetProject", "ListProjects",
    ],
    "flyteidl2.app.AppService": [
        "Create", "Get", "Update", "UpdateStatus", "Delete", "List", "Watch", "Lease",
    ],
    "flyteidl2.app.AppLogsService": ["TailLogs"],
    "flyteidl2.trigger.TriggerService": [
        "DeployTrigger", "GetTriggerDetails", "GetTriggerRevisionDetails", "ListTriggers",
        "GetTriggerRevisionHistory", "UpdateTriggers", "DeleteTriggers",
    ],
    "flyteidl2.auth.IdentityService": ["UserInfo"],
    "flyteidl2.settings.SettingsService": [
        "GetSettings", "GetSettingsForEdit", "CreateSettings", "UpdateSettings",
    ],
}  # fmt: skip

# Served on the same port for task pods and the backend itself, never from outside:
# actions/setup.go, runs/setup.go (InternalRunService; AuthMetadataService and the
# OAuth metadata, for a backend that is its own authorization server), events/setup.go,
# cache_service/setup.go, app/internal/setup.go (under /internal), app.go's probes.
INTERNAL = [
    *(f"/flyteidl2.actions.ActionsService/{m}"
      for m in ["Enqueue", "WatchForUpdates", "Update", "Abort", "Signal"]),
    *(f"/flyteidl2.workflow.InternalRunService/{m}"
      for m in ["RecordAction", "RecordActionStream", "UpdateActionStatus",
                "UpdateActionStatusStream", "RecordActionEvents", "RecordActionEventStream"]),
    "/flyteidl2.workflow.EventsProxyService/Record",
    *(f"/flyteidl2.cacheservice.v2.CacheService/{m}"
      for m in ["Get", "Put", "Delete", "GetOrExtendReservation", "ReleaseReservation"]),
    *(f"/internal/flyteidl2.app.AppService/{m}"
      for m in ["Create", "Get", "Update", "UpdateStatus", "Delete", "List", "Watch", "Lease"]),
    "/internal/flyteidl2.app.AppLogsService/TailLogs",
    "/flyteidl2.auth.AuthMetadataService/GetOAuth2Metadata",
    "/flyteidl2.auth.AuthMetadataService/GetPublicClientConfig",
    "/.well-known/oauth-authorization-server",
    "/healthz",
    "/readyz",
]  # fmt: skip

CONSOLE = ["/v2", "/v2/", "/v2/runs", "/v2/projects/flytesnacks/domains/development/runs"]

RELEASES = {"flyte-binary": "flyte-binary", "prod": "prod-flyte-binary"}


@cache
def rendered(release: str) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    """Our set for ``release``, and the chart rendered with its values, by kind."""
    ours = render(RenderOptions(domain=DOMAIN, static_ip_name="ip", flyte=2, release=release))
    assert ours.flyte_binary_values is not None
    values = helm.values_from_yaml(yaml.safe_dump(ours.flyte_binary_values))
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values, name=release, namespace=NAMESPACE, is_install=True)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for text in out.values():
        for document in yaml.safe_load_all(text):
            if document:
                by_kind.setdefault(document["kind"], []).append(document)
    return ours, by_kind


def ours_of(release: str, kind: str) -> dict[str, Any]:
    return next(o for o in rendered(release)[0].objects if o["kind"] == kind)


def chart_services(release: str) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in rendered(release)[1]["Service"]}


def first_route(routes: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    """Istio's choice for a path, for the exact and prefix matches render writes."""
    for route in routes:
        for match in route.get("match", [{}]):
            uri = match.get("uri", {})
            assert set(uri) <= {"exact", "prefix"}, uri  # render writes no regex
            if "exact" in uri and path == uri["exact"]:
                return route
            if "prefix" in uri and path.startswith(uri["prefix"]):
                return route
            if not uri:
                return route
    return None


def destination(route: dict[str, Any] | None) -> tuple[str, int] | None:
    if route is None:
        return None
    (target,) = route["route"]
    return target["destination"]["host"], target["destination"]["port"]["number"]


def public_paths() -> Iterator[str]:
    for service, methods in PUBLIC.items():
        for method in methods:
            yield f"/{service}/{method}"


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_every_route_points_at_a_service_and_port_the_chart_creates(release: str) -> None:
    services = chart_services(release)
    fullname = RELEASES[release]
    assert {f"{fullname}-http", f"{fullname}-console"} <= set(services)
    virtual_service = ours_of(release, "VirtualService")
    assert virtual_service["metadata"]["namespace"] == NAMESPACE
    targets = {destination(r) for r in virtual_service["spec"]["http"]}
    assert targets == {(f"{fullname}-http", 8090), (f"{fullname}-console", 80)}
    for host, port in targets:
        assert port in [p["port"] for p in services[str(host)]["spec"]["ports"]]


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_walking_the_routes_every_public_call_reaches_the_api_service(release: str) -> None:
    routes = ours_of(release, "VirtualService")["spec"]["http"]
    api = (f"{RELEASES[release]}-http", 8090)
    for path in public_paths():
        assert destination(first_route(routes, path)) == api, path


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_walking_the_routes_the_console_paths_reach_the_console(release: str) -> None:
    routes = ours_of(release, "VirtualService")["spec"]["http"]
    for path in CONSOLE:
        assert destination(first_route(routes, path)) == (f"{RELEASES[release]}-console", 80)


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_walking_the_routes_no_internal_path_reaches_anything(release: str) -> None:
    routes = ours_of(release, "VirtualService")["spec"]["http"]
    for path in [*INTERNAL, "/", "/flyteidl2.workflow.RunServiceX/CreateRun", "/v1/projects"]:
        assert first_route(routes, path) is None, path


def test_the_check_knows_every_internal_path_of_the_backend() -> None:
    assert set(INTERNAL) <= set(FLYTE2_INTERNAL_PATHS)


def test_the_routed_api_is_the_charts_own_public_api() -> None:
    """What we route is `flyte-binary.ingress.apiPaths` of the chart, service for service."""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    block = re.search(r'define "flyte-binary\.ingress\.apiPaths" -}}(.*?){{- end', helpers, re.S)
    assert block is not None
    listed = {line.strip("- /*") for line in block[1].split() if line.startswith("/")}
    assert listed == set(FLYTE2_API_SERVICES) == set(PUBLIC)


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_the_destination_rule_upgrades_the_api_service_to_http2(release: str) -> None:
    rule = ours_of(release, "DestinationRule")
    host = rule["spec"]["host"]
    (port,) = chart_services(release)[host]["spec"]["ports"]
    # The reason for the rule: a port named plain "http" is HTTP/1.1 to Istio.
    assert (port["name"], port["port"], port.get("appProtocol")) == ("http", 8090, None)
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["spec"]["trafficPolicy"]["connectionPool"]["http"]["h2UpgradePolicy"] == "UPGRADE"


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_the_backend_config_reads_iaps_signed_header_only(release: str) -> None:
    (config_map,) = rendered(release)[1]["ConfigMap"]
    core = yaml.safe_load(config_map["data"]["000-core.yaml"])
    assert core["runs"]["identityHeaders"] == {
        "claimsJwtHeader": "X-Goog-IAP-JWT-Assertion",
        "subjectHeader": "",
        "emailHeader": "",
    }
    assert core["runs"]["trustForwardedIdentityHeaders"] is True
    assert core["runs"]["server"]["port"] == 8090  # the chart's own defaults merge in


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_the_console_signs_out_at_iap(release: str) -> None:
    deployments = {d["metadata"]["name"]: d for d in rendered(release)[1]["Deployment"]}
    console = deployments[f"{RELEASES[release]}-console"]
    (container,) = console["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "OIDC_LOGOUT_URL": f"https://{DOMAIN}/_gcp_iap/clear_login_cookie",
        "LOGOUT_CLEAR_COOKIES": "",
    }


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_the_chart_opens_no_way_in_of_its_own(release: str) -> None:
    by_kind = rendered(release)[1]
    assert "Ingress" not in by_kind
    assert {s["spec"].get("type", "ClusterIP") for s in by_kind["Service"]} == {"ClusterIP"}


def test_streams_may_outlive_an_hour_at_the_load_balancer() -> None:
    assert ours_of("flyte-binary", "BackendConfig")["spec"]["timeoutSec"] >= 3600
    for route in ours_of("flyte-binary", "VirtualService")["spec"]["http"]:
        assert "timeout" not in route and "retries" not in route


# Helm's own rule for a release name (and its 53-character limit).
HELM_RELEASE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# What Kubernetes asks of a Service's name (RFC 1035 label).
SERVICE_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
RELEASE_NAMES = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,62}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9]{40,54}", fullmatch=True),  # about the limits
    st.builds(
        "{}flyte-binary{}".format,
        st.from_regex(r"([a-z][a-z0-9-]{0,30})?", fullmatch=True),
        st.from_regex(r"(-[a-z0-9]{1,45})?", fullmatch=True),
    ),
)


# A quarter of the profile's budget: each example renders the chart.
@settings(max_examples=max(1, settings.default.max_examples // 4))
@given(release=RELEASE_NAMES)
def test_the_service_we_route_to_is_the_one_the_chart_names(release: str) -> None:
    """For any release name, the chart's API Service is the `<fullname>-http` render
    routes to; and --release is refused exactly when Helm would refuse the name or the
    chart would name that Service in a way Kubernetes refuses."""
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(
            helm.values_from_yaml("{}"), name=release, namespace=NAMESPACE, is_install=True
        )
    (service,) = [
        d for d in yaml.safe_load_all(out["flyte-binary/templates/service/http.yaml"]) if d
    ]
    name = service["metadata"]["name"]
    assert name == flyte_binary_fullname(release) + "-http"
    usable = (
        HELM_RELEASE.fullmatch(release) is not None
        and len(release) <= 53
        and SERVICE_NAME.fullmatch(name) is not None
        and len(name) <= 63
    )
    try:
        check_release(release)
    except ManifestError:
        assert not usable, release
    else:
        assert usable, release
