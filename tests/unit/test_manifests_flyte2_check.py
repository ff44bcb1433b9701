"""`flyte-iap manifests check` on Flyte 2 sets: our render is clean, each planted mistake is
found, and the route walk agrees with an independent one on generated VirtualServices.

Each planted-mistake test renders the set, breaks one thing, writes the three files
(gateway values, flyte-binary values, objects), runs the command and asserts the lines.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from flyte_iap.errors import ManifestError
from flyte_iap.manifests import RenderedSet, RenderOptions, SourceDocument, check_documents, render
from flyte_iap.manifests.routes import FLYTE2_INTERNAL_PATHS

from ..cli import run_manifests as run

DOMAIN = "flyte.example.com"
API = {"destination": {"host": "flyte-binary-http", "port": {"number": 8090}}}
CONSOLE = {"destination": {"host": "flyte-binary-console", "port": {"number": 80}}}


def rendered() -> RenderedSet:
    return render(RenderOptions(domain=DOMAIN, static_ip_name="flyte-ip", flyte=2))


def obj(rendered_set: RenderedSet, kind: str) -> dict[str, Any]:
    return next(o for o in rendered_set.objects if o["kind"] == kind)


def values(rendered_set: RenderedSet) -> dict[str, Any]:
    assert rendered_set.flyte_binary_values is not None
    return rendered_set.flyte_binary_values


def routes(rendered_set: RenderedSet) -> list[dict[str, Any]]:
    http: list[dict[str, Any]] = obj(rendered_set, "VirtualService")["spec"]["http"]
    return http


def write(tmp_path: Path, rendered_set: RenderedSet) -> list[str]:
    files = {
        "gateway.yaml": [rendered_set.gateway_values],
        "flyte-binary.yaml": [values(rendered_set)],
        "manifests.yaml": rendered_set.objects,
    }
    for name, documents in files.items():
        (tmp_path / name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return [str(tmp_path / name) for name in files]


def check_after(tmp_path: Path, mutate: Callable[[RenderedSet], object]) -> list[str]:
    rendered_set = rendered()
    mutate(rendered_set)
    code, out, err = run("check", *write(tmp_path, rendered_set))
    assert code == (1 if out else 0), (out, err)
    return out.splitlines()


def findings(rendered_set: RenderedSet) -> list[str]:
    documents = [rendered_set.gateway_values, values(rendered_set), *rendered_set.objects]
    sources = [SourceDocument("f.yaml", i + 1, d) for i, d in enumerate(documents)]
    return [str(found) for found in check_documents(sources)]


def test_rendered_output_dir_is_clean(tmp_path: Path) -> None:
    code, _, err = run(
        "render", "--flyte", "2", "--domain", DOMAIN, "--static-ip-name", "ip",
        "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    files = sorted(str(p) for p in tmp_path.iterdir())
    assert [Path(f).name for f in files] == [
        "flyte-binary-values.yaml",
        "istio-gateway-values.yaml",
        "kustomization.yaml",
        "manifests.yaml",
    ]
    code, out, err = run("check", *files)
    assert (code, out) == (0, "")
    assert err.startswith("ok: 12 documents in 4 file(s)")


def test_rendered_stdout_stream_is_clean() -> None:
    code, stream, _ = run("render", "--flyte", "2", "--domain", DOMAIN, "--static-ip-name", "ip")
    assert code == 0
    assert run("check", "-", stdin=stream)[:2] == (0, "")


def test_the_stream_holds_both_values_documents_under_their_charts() -> None:
    _, stream, _ = run("render", "--flyte", "2", "--domain", DOMAIN, "--static-ip-name", "ip")
    gateway, flyte_binary, *objects = [d for d in yaml.safe_load_all(stream) if d]
    assert "apiVersion" not in gateway and "apiVersion" not in flyte_binary
    assert gateway["service"]["type"] == "NodePort"
    assert "flyte-core-components" in flyte_binary
    assert stream.index("# Helm values for the istio/gateway chart") < stream.index(
        "# Helm values for the flyte-binary v2 chart"
    )
    assert "helm install flyte-binary <the flyte-binary v2 chart> -n flyte" in stream
    assert all("apiVersion" in o for o in objects)


# -- routes ---------------------------------------------------------------------------------

INTERNAL_FIX = (
    "match only the public API prefixes (as `flyte-iap manifests render --flyte 2` writes "
    "them), never '/' or a prefix or regex that covers these"
)


def test_a_catch_all_route_to_the_backend_is_found(tmp_path: Path) -> None:
    lines = check_after(
        tmp_path, lambda r: routes(r).append({"name": "everything", "route": [API]})
    )
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: VirtualService/flyte-virtualservice: http route "
        "'everything' sends the backend's internal /flyteidl2.actions.ActionsService/, "
        "/flyteidl2.workflow.InternalRunService/, /flyteidl2.workflow.EventsProxyService/, "
        "/flyteidl2.cacheservice.v2.CacheService/ and 6 more to flyte-binary-http: only task "
        f"pods may call them — {INTERNAL_FIX}"
    ]


def test_a_prefix_of_slash_first_is_found_and_hides_nothing_else(tmp_path: Path) -> None:
    lines = check_after(
        tmp_path,
        lambda r: routes(r).insert(0, {"match": [{"uri": {"prefix": "/"}}], "route": [API]}),
    )
    assert len(lines) == 2
    assert "http route number 1 sends the backend's internal" in lines[0]
    # Taking every path first, it also takes /v2 away from the console.
    assert "no http route sends /v2/ to the console" in lines[1]


@pytest.mark.parametrize(
    "uri",
    [
        {"prefix": "/flyteidl2."},
        {"prefix": "/flyteidl2.actions.ActionsService/Enqueue"},
        {"regex": "/flyteidl2\\.[a-z]+\\.[A-Za-z]+Service/.*"},
        {"regex": "/(healthz|readyz)"},
        {"exact": "/.well-known/oauth-authorization-server"},
        {"prefix": "/internal/"},
    ],
)
def test_a_route_covering_an_internal_path_is_found(tmp_path: Path, uri: dict[str, str]) -> None:
    lines = check_after(
        tmp_path,
        lambda r: routes(r).append({"name": "extra", "match": [{"uri": uri}], "route": [API]}),
    )
    assert len(lines) == 1
    assert "http route 'extra' sends the backend's internal " in lines[0]


def test_first_match_order_decides(tmp_path: Path) -> None:
    """A catch-all to the backend behind a route that takes every internal path to the
    console exposes nothing: Istio never gets that far."""

    def shadow(r: RenderedSet) -> None:
        routes(r).append(
            {"name": "to-console", "match": [{"uri": {"prefix": "/"}}], "route": [CONSOLE]}
        )
        routes(r).append({"name": "never", "route": [API]})

    assert check_after(tmp_path, shadow) == []


def test_a_route_mirroring_to_the_backend_is_found(tmp_path: Path) -> None:
    lines = check_after(
        tmp_path, lambda r: routes(r).append({"route": [CONSOLE], "mirror": API["destination"]})
    )
    assert len(lines) == 1 and "http route number 3 sends the backend's internal" in lines[0]


def test_a_route_rewriting_paths_to_the_backend_is_found(tmp_path: Path) -> None:
    lines = check_after(tmp_path, lambda r: routes(r)[1].update(rewrite={"uri": "/"}))
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: VirtualService/flyte-virtualservice: http route "
        "'api-routes' rewrites the path it sends to the backend, so any path it matches may "
        "reach an internal service — route the public API prefixes to the backend unchanged, "
        "without rewrite"
    ]


def test_a_virtual_service_of_the_mesh_alone_is_not_reached_from_outside(tmp_path: Path) -> None:
    def mesh_only(r: RenderedSet) -> None:
        extra = copy.deepcopy(obj(r, "VirtualService"))
        extra["metadata"]["name"] = "in-mesh"
        extra["spec"].update(gateways=["mesh"], hosts=["flyte-binary-http"])
        extra["spec"]["http"] = [{"route": [API]}]
        r.objects.append(extra)

    assert check_after(tmp_path, mesh_only) == []


def test_a_public_service_left_out_is_found(tmp_path: Path) -> None:
    def drop(r: RenderedSet) -> None:
        api = routes(r)[1]
        api["match"] = [m for m in api["match"] if "TaskService" not in m["uri"]["prefix"]]

    assert check_after(tmp_path, drop) == [
        f"{tmp_path / 'manifests.yaml'}: VirtualService/flyte-virtualservice: no http route "
        "sends the public API /flyteidl2.task.TaskService/ to the backend, so the Flyte 2 SDK "
        "and console get 404 for them — add uri prefix matches for them to the route to "
        "<fullname>-http port 8090"
    ]


# -- HTTP/2 and timeouts ----------------------------------------------------------------------


def test_no_destination_rule_is_found(tmp_path: Path) -> None:
    def drop(r: RenderedSet) -> None:
        r.objects.remove(obj(r, "DestinationRule"))

    assert check_after(tmp_path, drop) == [
        f"{tmp_path / 'manifests.yaml'}: VirtualService/flyte-virtualservice: no "
        "DestinationRule among the files makes Istio speak HTTP/2 to flyte-binary-http; its "
        "port is named plain 'http', so Istio speaks HTTP/1.1 and gRPC calls fail — add a "
        "DestinationRule with host flyte-binary-http and "
        "trafficPolicy.connectionPool.http.h2UpgradePolicy: UPGRADE"
    ]


@pytest.mark.parametrize(
    ("http", "shown"),
    [
        ({"h2UpgradePolicy": "DEFAULT"}, "h2UpgradePolicy is 'DEFAULT'"),
        ({}, "h2UpgradePolicy is unset"),
        ({"h2UpgradePolicy": "UPGRADE", "useClientProtocol": True}, "useClientProtocol is true"),
    ],
)
def test_a_destination_rule_without_the_upgrade_is_found(
    tmp_path: Path, http: dict[str, Any], shown: str
) -> None:
    lines = check_after(
        tmp_path,
        lambda r: obj(r, "DestinationRule")["spec"]["trafficPolicy"]["connectionPool"].update(
            http=http
        ),
    )
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: DestinationRule/flyte-binary-http: {shown} for "
        "flyte-binary-http, so Istio speaks HTTP/1.1 to the backend and gRPC calls fail — set "
        "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: UPGRADE (without "
        "useClientProtocol)"
    ]


def test_a_port_level_setting_overrides_the_upgrade(tmp_path: Path) -> None:
    def port_level(r: RenderedSet) -> None:
        obj(r, "DestinationRule")["spec"]["trafficPolicy"]["portLevelSettings"] = [
            {"port": {"number": 8090}, "connectionPool": {"tcp": {"maxConnections": 10}}}
        ]

    (line,) = check_after(tmp_path, port_level)
    assert "DestinationRule/flyte-binary-http: h2UpgradePolicy is unset" in line


@pytest.mark.parametrize(
    ("timeout", "shown"),
    [
        (30, "timeoutSec is 30: the load balancer ends a watch or log stream after 30 s"),
        (None, "timeoutSec is unset: GCLB's default ends a watch or log stream after 30 s"),
        ("3600", "timeoutSec is '3600', not a number of seconds"),
    ],
)  # fmt: skip
def test_a_short_backend_service_timeout_is_found(
    tmp_path: Path, timeout: object, shown: str
) -> None:
    def set_timeout(r: RenderedSet) -> None:
        spec = obj(r, "BackendConfig")["spec"]
        spec.pop("timeoutSec")
        if timeout is not None:
            spec["timeoutSec"] = timeout

    assert check_after(tmp_path, set_timeout) == [
        f"{tmp_path / 'manifests.yaml'}: BackendConfig/ingress-backend-config: {shown} — set "
        "spec.timeoutSec: 86400 (at least 3600 s; render writes 86400)"
    ]


def test_an_hour_is_enough(tmp_path: Path) -> None:
    def hour(r: RenderedSet) -> None:
        obj(r, "BackendConfig")["spec"]["timeoutSec"] = 3600
        routes(r)[1].update(timeout="1h", retries={"attempts": 1, "perTryTimeout": "3600s"})
        tcp = {"maxConnectionDuration": "60m"}
        obj(r, "DestinationRule")["spec"]["trafficPolicy"]["connectionPool"]["tcp"] = tcp

    assert check_after(tmp_path, hour) == []


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("timeout", "30s", "timeout is 30s, which ends a watch or log stream after 30 s"),
        ("timeout", "59m59s", "timeout is 59m59s, which ends a watch or log stream after 3599 s"),
        ("timeout", "soon", "timeout 'soon' is not a duration"),
        ("perTryTimeout", "15s",
         "retries.perTryTimeout is 15s, which ends a watch or log stream after 15 s"),
    ],
)  # fmt: skip
def test_a_short_route_timeout_is_found(
    tmp_path: Path, field: str, value: str, problem: str
) -> None:
    def limit(r: RenderedSet) -> None:
        if field == "timeout":
            routes(r)[1]["timeout"] = value
        else:
            routes(r)[1]["retries"] = {"attempts": 2, "perTryTimeout": value}

    shown = "timeout" if field == "timeout" else "retries.perTryTimeout"
    assert check_after(tmp_path, limit) == [
        f"{tmp_path / 'manifests.yaml'}: VirtualService/flyte-virtualservice: http route "
        f"'api-routes': {problem} — remove the route's {shown} (Istio's default is none) or "
        "make it 3600s or more"
    ]


def test_a_short_maximum_connection_duration_is_found(tmp_path: Path) -> None:
    lines = check_after(
        tmp_path,
        lambda r: obj(r, "DestinationRule")["spec"]["trafficPolicy"]["connectionPool"].update(
            tcp={"maxConnectionDuration": "600s"}
        ),
    )
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: DestinationRule/flyte-binary-http: "
        "tcp.maxConnectionDuration is 600s, which ends a watch or log stream after 600 s (it "
        "closes the connection, streams and all) — remove "
        "connectionPool.tcp.maxConnectionDuration or make it 3600s or more"
    ]


def test_flyte_1_backend_configs_keep_the_default_timeout(tmp_path: Path) -> None:
    """Flyte 1 has no streams to keep: its set stays clean without timeoutSec."""
    flyte1 = render(RenderOptions(domain=DOMAIN, static_ip_name="flyte-ip"))
    assert "timeoutSec" not in obj(flyte1, "BackendConfig")["spec"]
    documents = [flyte1.gateway_values, *flyte1.objects]
    assert check_documents([SourceDocument("f", i, d) for i, d in enumerate(documents)]) == []


# -- the flyte-binary values ------------------------------------------------------------------

HEADERS = "flyte-core-components.runs.identityHeaders"


def identity(r: RenderedSet) -> dict[str, Any]:
    headers: dict[str, Any] = values(r)["flyte-core-components"]["runs"]["identityHeaders"]
    return headers


def test_albs_identity_headers_are_found(tmp_path: Path) -> None:
    lines = check_after(
        tmp_path,
        lambda r: identity(r).update(
            claimsJwtHeader="X-Amzn-Oidc-Data", subjectHeader="X-Amzn-Oidc-Identity"
        ),
    )
    where = f"{tmp_path / 'flyte-binary.yaml'}: HelmValues/flyte-binary"
    assert lines == [
        f"{where}: identityHeaders.claimsJwtHeader is 'X-Amzn-Oidc-Data', not IAP's signed "
        f"header — set {HEADERS}.claimsJwtHeader: X-Goog-IAP-JWT-Assertion",
        f"{where}: identityHeaders.subjectHeader is 'X-Amzn-Oidc-Identity', a plain header "
        f'any caller can send to run as someone else — set {HEADERS}.subjectHeader: ""',
    ]


def test_identity_headers_left_to_the_backends_defaults_are_found(tmp_path: Path) -> None:
    lines = check_after(
        tmp_path, lambda r: values(r)["flyte-core-components"]["runs"].pop("identityHeaders")
    )
    assert [line.split(": ", 2)[2].split(" — ")[0] for line in lines] == [
        "identityHeaders.claimsJwtHeader is unset, so the backend reads X-Amzn-Oidc-Data "
        "(AWS ALB's), not IAP's signed header",
        "identityHeaders.subjectHeader is unset, so the backend reads X-Amzn-Oidc-Identity "
        "(AWS ALB's), a plain header any caller can send to run as someone else",
    ]


def test_a_plain_email_header_is_found(tmp_path: Path) -> None:
    (line,) = check_after(
        tmp_path, lambda r: identity(r).update(emailHeader="X-Goog-Authenticated-User-Email")
    )
    assert "identityHeaders.emailHeader is 'X-Goog-Authenticated-User-Email', a plain" in line


def test_the_signed_header_in_any_case_is_iaps(tmp_path: Path) -> None:
    lines = check_after(
        tmp_path, lambda r: identity(r).update(claimsJwtHeader="x-goog-iap-jwt-assertion")
    )
    assert lines == []


def test_distrusting_the_forwarded_identity_is_found(tmp_path: Path) -> None:
    (line,) = check_after(
        tmp_path,
        lambda r: values(r)["flyte-core-components"]["runs"].update(
            trustForwardedIdentityHeaders=False
        ),
    )
    assert "trustForwardedIdentityHeaders is False: runs get no author and IdentityService" in line


def test_inline_configuration_wins_over_the_components(tmp_path: Path) -> None:
    def inline(r: RenderedSet) -> None:
        values(r)["configuration"] = {
            "inline": {"runs": {"identityHeaders": {"subjectHeader": "X-Auth-Request-User"}}}
        }

    (line,) = check_after(tmp_path, inline)
    assert "identityHeaders.subjectHeader is 'X-Auth-Request-User'" in line


def test_values_are_read_in_helms_order(tmp_path: Path) -> None:
    """`helm install -f yours -f ours`: ours win, nothing to find; `-f ours -f yours`:
    yours win, and the finding names your file."""
    rendered_set = rendered()
    objects, ours = write(tmp_path, rendered_set)[2], write(tmp_path, rendered_set)[1]
    yours = tmp_path / "yours.yaml"
    yours.write_text(
        "flyte-core-components:\n  runs:\n    identityHeaders:\n"
        "      claimsJwtHeader: X-Amzn-Oidc-Data\nconfiguration:\n  database: {}\n"
    )
    assert run("check", str(yours), ours, objects)[:2] == (0, "")
    code, out, _ = run("check", ours, str(yours), objects)
    assert code == 1
    assert out.startswith(f"{yours}: HelmValues/flyte-binary: identityHeaders.claimsJwtHeader")


def test_a_sign_out_that_keeps_the_iap_session_is_found(tmp_path: Path) -> None:
    assert check_after(tmp_path, lambda r: values(r)["console"].pop("env")) == [
        f"{tmp_path / 'flyte-binary.yaml'}: HelmValues/flyte-binary: console.env "
        "OIDC_LOGOUT_URL is unset, so Sign out leaves the IAP session open — set console.env "
        f"OIDC_LOGOUT_URL: https://{DOMAIN}/_gcp_iap/clear_login_cookie and "
        'LOGOUT_CLEAR_COOKIES: ""'
    ]


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("ingress", "create"), True,
         "ingress.create is true: the chart's own Ingress is a way in beside the gateway, "
         "without IAP — set ingress.create: false (the Istio gateway routes to the backend)"),
        (("ingress", "wellknownIngress", "enabled"), True,
         "ingress.wellknownIngress.enabled is true: the chart's own Ingress"),
        (("service", "type"), "LoadBalancer",
         "service.type is 'LoadBalancer', which exposes the backend, internal services too, "
         "outside the cluster without IAP — set service.type: ClusterIP"),
        (("console", "service", "type"), "NodePort",
         "console.service.type is 'NodePort', which exposes the console outside"),
    ],
)  # fmt: skip
def test_a_way_in_beside_the_gateway_is_found(
    tmp_path: Path, path: tuple[str, ...], value: object, problem: str
) -> None:
    def open_up(r: RenderedSet) -> None:
        node = values(r)
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    (line,) = check_after(tmp_path, open_up)
    assert line.startswith(f"{tmp_path / 'flyte-binary.yaml'}: HelmValues/flyte-binary: {problem}")


def test_flyte_binary_values_alone_are_recognised_as_such(tmp_path: Path) -> None:
    """Not taken for istio/gateway values (whose rules would ask for NodePort)."""
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values(rendered())))
    assert run("check", str(path))[:2] == (0, "")


# -- robustness and the route walk as properties ----------------------------------------------


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, child in items:
        found += _paths(child, (*prefix, key))
    return found


def test_odd_hand_written_values_never_crash_check() -> None:
    """Any field of the Flyte 2 set replaced by a value of another type gives findings, or a
    ManifestError naming the file and the document: never a crash."""
    original = rendered()
    documents = [original.gateway_values, values(original), *original.objects]
    errors = 0
    for index, document in enumerate(documents):
        for path in _paths(document):
            for odd in ("text", 3, [1], None, {"x": 1}, True):
                copied = copy.deepcopy(documents)
                node = copied[index]
                for step in path[:-1]:
                    node = node[step]
                node[path[-1]] = odd
                sources = [SourceDocument("f.yaml", i + 1, d) for i, d in enumerate(copied)]
                try:
                    found = check_documents(sources)
                except ManifestError as exc:
                    assert str(exc).startswith("f.yaml"), exc
                    errors += 1
                    continue
                for finding in found:
                    assert finding.source == "f.yaml" and finding.problem and finding.fix
    assert errors


def _oracle_first(routes_: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    """Istio's first match, written again for this test: exact, prefix and RE2 regex."""
    for route in routes_:
        matches = route.get("match") or [{}]
        for match in matches:
            uri = match.get("uri", {})
            if (
                not uri
                or ("exact" in uri and path == uri["exact"])
                or ("prefix" in uri and path.startswith(uri["prefix"]))
                or ("regex" in uri and re.fullmatch(uri["regex"], path))
            ):
                return route
    return None


URIS = st.sampled_from(
    [
        {"prefix": "/"},
        {"prefix": "/flyteidl2."},
        {"prefix": "/flyteidl2.workflow."},
        {"prefix": "/flyteidl2.workflow.RunService/"},
        {"prefix": "/flyteidl2.actions.ActionsService/"},
        {"prefix": "/internal/"},
        {"prefix": "/v2/"},
        {"exact": "/healthz"},
        {"exact": "/readyz"},
        {"exact": "/flyteidl2.workflow.EventsProxyService/Record"},
        {"regex": "/flyteidl2\\.(task|secret)\\..*"},
        {"regex": ".*Internal.*"},
        {"regex": "/[a-z.]+/.*"},
    ]
)
ROUTES = st.lists(
    st.fixed_dictionaries(
        {
            "match": st.lists(st.fixed_dictionaries({"uri": URIS}), max_size=3),
            "route": st.sampled_from([[API], [CONSOLE]]),
        }
    ),
    max_size=5,
)


@given(extra=ROUTES, before=st.booleans())
def test_an_exposure_is_found_exactly_when_the_walk_reaches_the_backend(
    extra: list[dict[str, Any]], before: bool
) -> None:
    rendered_set = rendered()
    http = routes(rendered_set)
    http[:] = [*extra, *http] if before else [*http, *extra]
    exposed = any(
        (hit := _oracle_first(http, path)) is not None and hit["route"] == [API]
        for path in FLYTE2_INTERNAL_PATHS
    )
    found = [line for line in findings(rendered_set) if "sends the backend's internal" in line]
    assert bool(found) == exposed, (http, found)
