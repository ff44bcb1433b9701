"""Every rendered object, Flyte 1's and Flyte 2's, validates against the published schemas
in tests/schemas.

CRD schemas are made strict (``additionalProperties: false`` on every object
schema that lists properties, below the top level) as tests/schemas/SOURCES.md describes,
and tests prove a misspelled nested field is then rejected.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from flyte_iap.manifests import RenderOptions, render

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

# kind -> (schema file, kind of the CRD or None for a plain JSON schema)
SCHEMA_FILES = {
    "BackendConfig": ("backendconfig_v1.datree.schema.json", None),
    "FrontendConfig": ("frontendconfig_v1beta1.datree.schema.json", None),
    "ManagedCertificate": ("managedcertificate.crd.yaml", "ManagedCertificate"),
    "Issuer": ("cert-manager-issuer.crd.yaml", "Issuer"),
    "Certificate": ("cert-manager-certificate.crd.yaml", "Certificate"),
    "Gateway": ("istio-crd-all.gen.yaml", "Gateway"),
    "VirtualService": ("istio-crd-all.gen.yaml", "VirtualService"),
    "DestinationRule": ("istio-crd-all.gen.yaml", "DestinationRule"),
}
K8S_VERSION = "1.30"


GENERATIONS = (1, 2)


def _rendered(flyte: int = 1) -> Any:
    return render(RenderOptions(domain="flyte.example.com", static_ip_name="flyte-ip", flyte=flyte))


def _by_kind(kind: str, flyte: int = 1) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in _rendered(flyte).objects if o["kind"] == kind))


def _strict(schema: Any, top: bool = True) -> Any:
    """Copy of a CRD schema with unknown properties rejected below the top level."""
    if isinstance(schema, list):
        return [_strict(item, top=False) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value, top=False) for key, value in schema.items() if key != "properties"}
    if "properties" in schema:
        out["properties"] = {k: _strict(v, top=False) for k, v in schema["properties"].items()}
    if (
        not top
        and "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def _crd_schema(file: str, kind: str, version: str) -> Any:
    with (SCHEMAS / file).open(encoding="utf-8") as handle:
        for doc in yaml.safe_load_all(handle):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                if doc["spec"]["names"]["kind"] != kind:
                    continue
                for entry in doc["spec"]["versions"]:
                    if entry["name"] == version:
                        return _strict(entry["schema"]["openAPIV3Schema"])
    raise AssertionError(f"no {kind} {version} in {file}")


def _validator(manifest: dict[str, Any]) -> Any:
    file, crd_kind = SCHEMA_FILES[manifest["kind"]]
    if crd_kind is None:
        schema = json.loads((SCHEMAS / file).read_text(encoding="utf-8"))
    else:
        schema = _crd_schema(file, crd_kind, manifest["apiVersion"].rpartition("/")[2])
    return jsonschema.Draft202012Validator(schema)


def _errors(manifest: dict[str, Any]) -> list[str]:
    return [e.message for e in _validator(manifest).iter_errors(manifest)]


# Where each kind's schema would catch a misspelled field: the control that makes its
# test able to fail (a validator that accepts anything would pass every rendered object).
TYPOS = {
    "Certificate": (("spec", "issuerRef"), "nmae"),
    "Issuer": (("spec", "selfSigned"), "crlDistributionPointz"),
    "Gateway": (("spec", "servers", 0, "tls"), "credentialNmae"),
    "VirtualService": (("spec", "http", -1, "route", 0, "destination"), "prot"),
    "DestinationRule": (("spec", "trafficPolicy", "connectionPool", "http"), "h2UpgradePolicyy"),
    "ManagedCertificate": (("spec",), "domain"),
    "BackendConfig": (("spec", "iap"), "enabeld"),
    "FrontendConfig": (("spec", "redirectToHttps"), "enable"),
}


KINDS = [
    (flyte, kind)
    for flyte in GENERATIONS
    for kind in sorted({o["kind"] for o in _rendered(flyte).objects} - {"Ingress"})
]


@pytest.mark.parametrize(("flyte", "kind"), KINDS)
def test_rendered_object_matches_its_schema(flyte: int, kind: str) -> None:
    """What `manifests render` writes is what the published schema accepts, down to
    nested field names; and the same validator refuses the object with one nested field
    misspelled, so the first assertion is not vacuous."""
    assert _errors(_by_kind(kind, flyte)) == []
    control = _by_kind(kind, flyte)
    path, typo = TYPOS[kind]
    node: Any = control
    for step in path:
        node = node[step]
    node[typo] = "x"
    assert any(typo in message for message in _errors(control))


def test_every_rendered_object_is_covered_by_a_schema_test() -> None:
    kinds = {o["kind"] for flyte in GENERATIONS for o in _rendered(flyte).objects}
    assert kinds == set(SCHEMA_FILES) | {"Ingress"} == set(TYPOS) | {"Ingress"}
    assert {"DestinationRule"} == kinds - {o["kind"] for o in _rendered(1).objects}


def test_a_destination_rule_policy_outside_the_enum_is_refused() -> None:
    """The value that matters, not only the field name: UPGRADE is one of Istio's."""
    rule = _by_kind("DestinationRule", 2)
    rule["spec"]["trafficPolicy"]["connectionPool"]["http"]["h2UpgradePolicy"] = "HTTP2"
    assert any("HTTP2" in message for message in _errors(rule))


def _values_validator() -> Any:
    schema = json.loads(
        (SCHEMAS / "istio-gateway-chart.values.schema.json").read_text(encoding="utf-8")
    )
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def test_gateway_values_match_the_chart_schema() -> None:
    """The Helm values match Istio's chart schema; the control: a misspelled top-level key
    is refused by it."""
    values = _rendered().gateway_values
    assert [e.message for e in _values_validator().iter_errors(values)] == []
    control = copy.deepcopy(values)
    control["servcie"] = control.pop("service")
    assert list(_values_validator().iter_errors(control))


@pytest.mark.parametrize("flyte", GENERATIONS)
def test_ingress_passes_strict_kubernetes_validation(flyte: int) -> None:
    """The Ingress is valid for Kubernetes, strictly; the control: one without a backend
    is not."""
    ingress = _by_kind("Ingress", flyte)
    kubernetes_validate.validate(ingress, K8S_VERSION, strict=True)
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(prot=1)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(ingress, K8S_VERSION, strict=True)
