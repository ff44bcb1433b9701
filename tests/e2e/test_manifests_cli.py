"""`flyte-iap manifests render/check` from the command line: options and bad input.

Runs the click group in process, and the installed `flyte-iap` script when
it is on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ..cli import flyte_iap_command
from ..cli import run_manifests as run

GOOD = ["--domain", "flyte.example.com", "--static-ip-name", "flyte-ip"]


def assert_usage_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    assert 1 <= len(err.strip().splitlines()) <= 2, err
    for needle in needles:
        assert needle in err


def test_render_options_reach_the_objects() -> None:
    code, out, _ = run(
        "render", *GOOD,
        "--iap-oauth-secret", "my-iap", "--flyte_namespace", "flyte-prod",
        "--istio-namespace", "mesh", "--admin-grpc-port", "8089", "--console-service", "console",
    )  # fmt: skip
    assert code == 0
    values, *objects = [d for d in yaml.safe_load_all(out) if d]
    assert values["service"]["type"] == "NodePort"
    by_kind = {o["kind"]: o for o in objects}
    assert len(objects) == 8
    assert by_kind["BackendConfig"]["spec"]["iap"]["oauthclientCredentials"] == {
        "secretName": "my-iap"
    }
    service = by_kind["VirtualService"]
    assert service["metadata"]["namespace"] == "flyte-prod"
    assert service["spec"]["gateways"] == ["mesh/default-gateway"]
    routes = {r["name"]: r["route"][0]["destination"] for r in service["spec"]["http"]}
    assert routes["admin-grpc-routes"] == {"host": "flyteadmin", "port": {"number": 8089}}
    assert routes["admin-routes"] == {"host": "flyteadmin", "port": {"number": 80}}
    assert routes["console-routes"] == {"host": "console", "port": {"number": 80}}
    ingress = by_kind["Ingress"]["metadata"]
    assert ingress["namespace"] == "mesh"
    assert ingress["annotations"]["kubernetes.io/ingress.global-static-ip-name"] == "flyte-ip"


def test_flyte_2_options_reach_the_objects_and_values() -> None:
    code, out, _ = run(
        "render", *GOOD, "--flyte", "2", "--release", "prod",
        "--flyte-namespace", "flyte-prod", "--istio-namespace", "mesh",
    )  # fmt: skip
    assert code == 0
    gateway, flyte_binary, *objects = [d for d in yaml.safe_load_all(out) if d]
    assert gateway["service"]["type"] == "NodePort"
    assert flyte_binary["ingress"]["create"] is False
    assert "helm install prod <the flyte-binary v2 chart> -n flyte-prod" in out
    by_kind = {o["kind"]: o for o in objects}
    assert len(objects) == 9
    service = by_kind["VirtualService"]
    assert service["metadata"]["namespace"] == "flyte-prod"
    assert service["spec"]["gateways"] == ["mesh/default-gateway"]
    routes = {r["name"]: r["route"][0]["destination"] for r in service["spec"]["http"]}
    assert routes == {
        "console-routes": {"host": "prod-flyte-binary-console", "port": {"number": 80}},
        "api-routes": {"host": "prod-flyte-binary-http", "port": {"number": 8090}},
    }
    rule = by_kind["DestinationRule"]
    assert (rule["metadata"]["namespace"], rule["spec"]["host"]) == (
        "flyte-prod",
        "prod-flyte-binary-http",
    )
    assert by_kind["BackendConfig"]["spec"]["timeoutSec"] == 86400


def test_flyte_2_output_dir_builds_with_kustomize(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    code, _, err = run("render", *GOOD, "--flyte", "2", "--output-dir", str(tmp_path))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "flyte-binary-values.yaml",
        "istio-gateway-values.yaml",
        "kustomization.yaml",
        "manifests.yaml",
    ]
    built = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(built.stdout) if d)
    assert kinds == [
        "BackendConfig", "Certificate", "DestinationRule", "FrontendConfig", "Gateway",
        "Ingress", "Issuer", "ManagedCertificate", "VirtualService",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("release", "needle"),
    [
        ("Prod", "is not a Helm release name"),
        ("1prod", "is not a Helm release name"),
        ("prod.eu", "is not a Helm release name"),
        ("prod-", "is not a Helm release name"),
        ("x" * 54, "is not a Helm release name"),
        ("x" * 46, "(64 characters, Kubernetes allows 63)"),
    ],
)
def test_render_rejects_a_release_the_chart_cannot_name_services_for(
    release: str, needle: str
) -> None:
    assert_usage_error(
        *run("render", *GOOD, "--flyte", "2", "--release", release), "--release", needle
    )


def test_a_long_release_containing_the_charts_name_is_fine() -> None:
    assert run("render", *GOOD, "--flyte", "2", "--release", "x" * 41 + "flyte-binary")[0] == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--flyte", "2", "--admin-service", "admin"], "--admin-service applies only to --flyte 1"),
        (["--flyte", "2", "--console-port", "8080"], "--console-port applies only to --flyte 1"),
        (["--release", "prod"], "--release applies only to --flyte 2"),
    ],
)
def test_render_refuses_an_option_of_the_other_generation(args: list[str], needle: str) -> None:
    assert_usage_error(*run("render", *GOOD, *args), needle)


def test_render_knows_two_generations() -> None:
    code, out, err = run("render", *GOOD, "--flyte", "3")
    assert (code, out) == (2, "")
    assert "--flyte" in err and "Traceback" not in err


def test_output_dir_has_a_kustomization_for_the_manifests(tmp_path: Path) -> None:
    code, out, err = run("render", *GOOD, "--output-dir", str(tmp_path / "new"))
    assert (code, out) == (0, "")
    assert "manifests.yaml" in err
    kustomization = yaml.safe_load((tmp_path / "new" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["manifests.yaml"]


@pytest.mark.parametrize(
    "domain",
    [
        "localhost",
        "Flyte.Example.com",
        "*.example.com",
        "https://flyte.example.com",
        "flyte.example.com:443",
        "flyte.example.com/console",
        "flyte.example.com.",
        "flyte..example.com",
        "-flyte.example.com",
        "flyte_x.example.com",
        "10.0.0.1",
        "flyte.example.com extra",
        "",
    ],
)
def test_render_rejects_a_bad_domain(domain: str) -> None:
    assert_usage_error(*run("render", "--domain", domain, "--static-ip-name", "ip"), "--domain")


@pytest.mark.parametrize("name", ["1ip", "Flyte-IP", "ip-", "ip_x", "a" * 64])
def test_render_rejects_a_bad_static_ip_name(name: str) -> None:
    code, out, err = run("render", "--domain", "flyte.example.com", "--static-ip-name", name)
    assert_usage_error(code, out, err, "--static-ip-name", "GCP resource name")


@pytest.mark.parametrize("option", ["--flyte-namespace", "--istio-namespace"])
@pytest.mark.parametrize("value", ["Flyte", "flyte.prod", "-flyte", "x" * 64])
def test_render_rejects_a_bad_namespace(option: str, value: str) -> None:
    assert_usage_error(*run("render", *GOOD, option, value), option, "namespace")


def test_render_rejects_a_bad_port() -> None:
    code, _, err = run("render", *GOOD, "--admin-grpc-port", "70000")
    assert code == 2
    assert "Traceback" not in err


def test_render_requires_the_domain() -> None:
    code, _, err = run("render", "--static-ip-name", "ip")
    assert code == 2
    assert "--domain" in err


def test_check_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert_usage_error(*run("check", str(missing)), f"{missing}: no such file")


def test_check_unparsable_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: Ingress\nmetadata: [unclosed\n")
    assert_usage_error(*run("check", str(path)), f"{path}: not valid YAML at line")


def test_check_unknown_kind(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    assert_usage_error(
        *run("check", str(path)), f"{path}: document 1: Deployment (apps/v1) is not part"
    )


def test_check_gateway_api_gateway_is_an_unknown_kind(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n")
    assert_usage_error(*run("check", str(path)), "Gateway (gateway.networking.k8s.io/v1)")


def test_check_document_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    assert_usage_error(*run("check", str(path)), "document 1 is a list, not a mapping")


def test_check_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n")
    assert_usage_error(*run("check", str(path)), "no YAML documents")


def test_check_directory(tmp_path: Path) -> None:
    assert_usage_error(*run("check", str(tmp_path)), "is a directory")


NESTED = {
    "flow-sequences": "[" * 100_000,
    "flow-mappings": "{a: " * 100_000,
    "closed": "kind: Ingress\nspec: " + "[" * 5_000 + "]" * 5_000 + "\n",
    "block-mappings": "".join(f"{'  ' * depth}a:\n" for depth in range(2_000)),
}


@pytest.mark.parametrize("text", list(NESTED.values()), ids=list(NESTED))
def test_check_deeply_nested_yaml(tmp_path: Path, text: str) -> None:
    """PyYAML composes recursively: without a bound, this would be a RecursionError."""
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    assert_usage_error(*run("check", str(path)), f"{path}: not valid YAML at line", "nested")
    assert_usage_error(*run("check", "-", stdin=text), "<stdin>: not valid YAML", "nested")


def test_check_needs_a_file() -> None:
    code, _, err = run("check")
    assert code == 2
    assert "Traceback" not in err


def script(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command itself, as a user runs it."""
    return subprocess.run(
        [*flyte_iap_command(), "manifests", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_script_renders_and_checks_clean(tmp_path: Path) -> None:
    rendered = script("render", *GOOD, "--output-dir", str(tmp_path))
    assert rendered.returncode == 0, rendered.stderr
    checked = script("check", *(str(p) for p in sorted(tmp_path.iterdir())))
    assert (checked.returncode, checked.stdout) == (0, ""), checked.stderr


def test_script_renders_and_checks_flyte_2_clean(tmp_path: Path) -> None:
    rendered = script("render", *GOOD, "--flyte", "2", "--output-dir", str(tmp_path))
    assert rendered.returncode == 0, rendered.stderr
    checked = script("check", *(str(p) for p in sorted(tmp_path.iterdir())))
    assert (checked.returncode, checked.stdout) == (0, ""), checked.stderr


def test_script_reports_bad_input_without_traceback() -> None:
    result = script("render", "--domain", "*.example.com", "--static-ip-name", "ip")
    assert result.returncode == 2
    assert result.stderr.startswith("flyte-iap: --domain")
    assert "Traceback" not in result.stderr


def test_script_reports_deeply_nested_yaml_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 100_000)
    result = script("check", str(path))
    assert_usage_error(result.returncode, result.stdout, result.stderr, "nested more than")


def test_script_check_exits_1_on_findings(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("service:\n  type: LoadBalancer\n")
    result = script("check", str(values))
    assert result.returncode == 1
    assert "service.type is 'LoadBalancer'" in result.stdout
