"""`flyte-iap manifests check`: each dangerous mistake is found; the rendered set is clean.

Each test renders the set, breaks one thing, writes the files, runs the
command and asserts the finding line and exit code 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from flyte_iap.errors import ManifestError
from flyte_iap.manifests import (
    RenderedSet,
    RenderOptions,
    SourceDocument,
    check_documents,
    render,
)

from ..cli import run_manifests as run

DOMAIN = "flyte.example.com"


def rendered() -> RenderedSet:
    return render(RenderOptions(domain=DOMAIN, static_ip_name="flyte-ip"))


def obj(rendered_set: RenderedSet, kind: str) -> dict[str, Any]:
    return next(o for o in rendered_set.objects if o["kind"] == kind)


def write(tmp_path: Path, rendered_set: RenderedSet) -> tuple[str, str]:
    values, objects = tmp_path / "values.yaml", tmp_path / "manifests.yaml"
    values.write_text(yaml.safe_dump(rendered_set.gateway_values, sort_keys=False))
    objects.write_text(yaml.safe_dump_all(rendered_set.objects, sort_keys=False))
    return str(values), str(objects)


def check_after(tmp_path: Path, mutate: Callable[[RenderedSet], object]) -> tuple[int, list[str]]:
    rendered_set = rendered()
    mutate(rendered_set)
    code, out, _ = run("check", *write(tmp_path, rendered_set))
    return code, out.splitlines()


def test_rendered_output_dir_is_clean(tmp_path: Path) -> None:
    code, _, err = run(
        "render", "--domain", DOMAIN, "--static-ip-name", "ip", "--output-dir", str(tmp_path)
    )
    assert code == 0, err
    files = sorted(str(p) for p in tmp_path.iterdir())
    assert [Path(f).name for f in files] == [
        "istio-gateway-values.yaml",
        "kustomization.yaml",
        "manifests.yaml",
    ]
    code, out, err = run("check", *files)
    assert (code, out) == (0, "")
    assert err.startswith("ok:")


def test_rendered_stdout_stream_is_clean(tmp_path: Path) -> None:
    code, stream, _ = run("render", "--domain", DOMAIN, "--static-ip-name", "ip")
    assert code == 0
    (tmp_path / "all.yaml").write_text(stream)
    assert run("check", str(tmp_path / "all.yaml"))[:2] == (0, "")
    assert run("check", "-", stdin=stream)[:2] == (0, "")


def test_load_balancer_service_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path, lambda r: r.gateway_values["service"].update(type="LoadBalancer")
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'values.yaml'}: HelmValues/istio-gateway: service.type is 'LoadBalancer', "
        "which exposes the gateway (and flyteadmin) to the internet without IAP "
        "— set service.type: NodePort"
    ]


def test_service_type_left_to_the_chart_default_is_found(tmp_path: Path) -> None:
    # The chart's own schema does not reject this typo; check does.
    def misspell(r: RenderedSet) -> None:
        r.gateway_values["service"]["tpye"] = r.gateway_values["service"].pop("type")

    code, lines = check_after(tmp_path, misspell)
    assert code == 1
    assert "service.type is 'LoadBalancer'" in lines[0]


def test_iap_disabled_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path, lambda r: obj(r, "BackendConfig")["spec"]["iap"].update(enabled=False)
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: BackendConfig/ingress-backend-config: "
        "IAP is not enabled — set spec.iap.enabled: true"
    ]


def test_missing_oauth_secret_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path, lambda r: obj(r, "BackendConfig")["spec"]["iap"].pop("oauthclientCredentials")
    )
    assert code == 1
    assert len(lines) == 1
    assert "BackendConfig/ingress-backend-config: IAP has no OAuth client secret — set " in lines[0]


def test_gateway_service_without_backend_config_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path,
        lambda r: r.gateway_values["service"]["annotations"].pop(
            "beta.cloud.google.com/backend-config"
        ),
    )
    assert code == 1
    assert "HelmValues/istio-gateway: the gateway service names no BackendConfig" in lines[0]


def test_wrong_health_check_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path,
        lambda r: obj(r, "BackendConfig")["spec"]["healthCheck"].update(port=443, requestPath="/"),
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: BackendConfig/ingress-backend-config: health check is "
        "type HTTP, port 443, path /; the Istio gateway answers readiness elsewhere "
        "— set spec.healthCheck to type: HTTP, port: 15021, requestPath: /healthz/ready"
    ]


def test_credential_name_not_matching_the_certificate_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path,
        lambda r: obj(r, "Gateway")["spec"]["servers"][0]["tls"].update(
            credentialName="istio-ingres-cert"
        ),
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: Gateway/default-gateway: tls.credentialName "
        "'istio-ingres-cert' is no Certificate's secretName (istio-ingress-cert) "
        "— set credentialName to the Certificate's spec.secretName"
    ]


def test_missing_http2_annotation_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path,
        lambda r: r.gateway_values["service"]["annotations"].pop("cloud.google.com/app-protocols"),
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'values.yaml'}: HelmValues/istio-gateway: service annotation "
        "cloud.google.com/app-protocols does not map port 'https' to HTTP2, so gRPC calls to "
        """flyteadmin fail — set service.annotations["cloud.google.com/app-protocols"]: """
        """'{"https":"HTTP2"}'"""
    ]


@pytest.mark.parametrize("prefix", ["/grpc.health.v1.Health", "/flyteidl.service.AdminService"])
def test_missing_grpc_route_is_found(tmp_path: Path, prefix: str) -> None:
    def drop(r: RenderedSet) -> None:
        grpc = obj(r, "VirtualService")["spec"]["http"][2]
        grpc["match"] = [m for m in grpc["match"] if m["uri"]["prefix"] != prefix]

    code, lines = check_after(tmp_path, drop)
    assert code == 1
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: VirtualService/flyte-virtualservice: no http route "
        f"matches the gRPC paths {prefix} — add uri prefix matches for them to the route to "
        "flyteadmin's gRPC port"
    ]


def test_redirect_disabled_in_frontend_config_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path,
        lambda r: obj(r, "FrontendConfig")["spec"]["redirectToHttps"].update(enabled=False),
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: FrontendConfig/ingress-frontend-config: HTTP is not "
        "redirected to HTTPS — set spec.redirectToHttps.enabled: true"
    ]


def test_ingress_without_frontend_config_annotation_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path,
        lambda r: obj(r, "Ingress")["metadata"]["annotations"].pop(
            "networking.gke.io/v1beta1.FrontendConfig"
        ),
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: Ingress/flyte-ingress: annotation "
        "networking.gke.io/v1beta1.FrontendConfig is missing, so HTTP is not redirected "
        "— add networking.gke.io/v1beta1.FrontendConfig: ingress-frontend-config"
    ]


def test_managed_certificate_domain_not_served_is_found(tmp_path: Path) -> None:
    code, lines = check_after(
        tmp_path,
        lambda r: obj(r, "ManagedCertificate")["spec"].update(domains=["flyte.example.org"]),
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'manifests.yaml'}: ManagedCertificate/flyte-managed-certificate: domain "
        "'flyte.example.org' is not among the VirtualService hosts ['flyte.example.com'] "
        "— add 'flyte.example.org' to the VirtualService's spec.hosts (or fix the domain)"
    ]


def test_gateway_alone_says_its_certificate_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(obj(rendered(), "Gateway")))
    code, out, _ = run("check", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}: Gateway/default-gateway: no Certificate among the files, so "
        "tls.credentialName cannot be checked — pass the file holding the Certificate in the "
        "same `check` call"
    ]


def test_referred_to_objects_alone_are_clean(tmp_path: Path) -> None:
    path = tmp_path / "certs.yaml"
    r = rendered()
    path.write_text(yaml.safe_dump_all([obj(r, "Certificate"), obj(r, "Issuer")]))
    assert run("check", str(path))[:2] == (0, "")


def test_values_alone_ask_for_the_backend_config(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(rendered().gateway_values))
    code, out, _ = run("check", str(path))
    assert code == 1
    assert "no BackendConfig among the files" in out


def test_several_mistakes_give_one_line_each(tmp_path: Path) -> None:
    def break_three(r: RenderedSet) -> None:
        r.gateway_values["service"]["type"] = "LoadBalancer"
        obj(r, "BackendConfig")["spec"]["iap"]["enabled"] = False
        obj(r, "VirtualService")["spec"]["hosts"] = ["other.example.com"]

    code, lines = check_after(tmp_path, break_three)
    assert code == 1
    assert len(lines) == 3


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
    """Any field replaced by a value of another type gives findings, or a ManifestError
    naming the file and the document: never a crash, never an unlocated message."""
    original = rendered()
    errors = 0
    documents = [original.gateway_values, *original.objects]
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
                    findings = check_documents(sources)
                except ManifestError as exc:
                    assert str(exc).startswith("f.yaml"), exc
                    errors += 1
                    continue
                for found in findings:
                    assert found.source.startswith("f.yaml") and found.problem and found.fix
    assert errors  # a kind or apiVersion made odd is refused, not just found wanting


def test_nesting_up_to_the_limit_loads_and_one_more_level_does_not() -> None:
    """A bound on nesting, not Python's recursion limit, decides."""
    from flyte_iap.manifests.yaml_io import MAX_DEPTH, load

    def nested(depth: int) -> str:  # the document's own mapping is the first level
        return "a: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"

    (document,) = load("deep.yaml", nested(MAX_DEPTH))
    node, levels = document.body["a"], 2
    while node:
        node, levels = node[0], levels + 1
    assert levels == MAX_DEPTH
    with pytest.raises(ManifestError, match=r"deep\.yaml: not valid YAML at line 1: collections "):
        load("deep.yaml", nested(MAX_DEPTH + 1))
