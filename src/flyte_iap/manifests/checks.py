"""The dangerous mistakes ``manifests check`` looks for, as pure functions.

Rules see only the files given together; the Flyte 2 rules are in
:mod:`flyte_iap.manifests.flyte2_checks`. A rule that follows a reference
(Gateway -> Certificate, Ingress -> FrontendConfig, gateway values ->
BackendConfig, ManagedCertificate -> VirtualService) reports "no X among the
files" when the referring object is present but nothing it could refer to
is; a referred-to object alone (a lone Certificate) is never a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from flyte_iap.manifests.documents import GATEWAY_VALUES, Inventory, SourceDocument, classify
from flyte_iap.manifests.findings import (
    Finding,
    as_dict,
    as_list,
    finding,
    json_annotation,
    missing,
    same_namespace,
)
from flyte_iap.manifests.flyte2_checks import (
    backend_http2,
    chart_entrances,
    console_sign_out,
    iap_identity,
    internal_paths_closed,
    public_api_routed,
    stream_timeouts,
)
from flyte_iap.manifests.render import APP_PROTOCOLS, BACKEND_CONFIG_KEYS
from flyte_iap.manifests.routing_checks import certificate_domains, grpc_routes, https_redirect


def check_documents(documents: Sequence[SourceDocument]) -> list[Finding]:
    """Run every rule over documents read together; raise ``ManifestError`` on unknown kinds."""
    inventory = classify(documents)
    return [found for rule in RULES for found in rule(inventory)]


def gateway_service(inv: Inventory) -> Iterator[Finding]:
    """The gateway Service must be NodePort and speak HTTP/2 (gRPC) to the load balancer."""
    for values in inv.values(GATEWAY_VALUES):
        service_type = values.get("service", "type") or "LoadBalancer"
        if service_type != "NodePort":
            yield finding(
                values,
                f"service.type is {service_type!r}, which exposes the gateway (and flyteadmin) "
                "to the internet without IAP",
                "set service.type: NodePort",
            )
        protocols = json_annotation(values.get("service", "annotations", APP_PROTOCOLS))
        if protocols.get("https") != "HTTP2":
            yield finding(
                values,
                f"service annotation {APP_PROTOCOLS} does not map port 'https' to HTTP2, "
                "so gRPC calls to flyteadmin fail",
                f"""set service.annotations["{APP_PROTOCOLS}"]: '{{"https":"HTTP2"}}'""",
            )


def iap_attached(inv: Inventory) -> Iterator[Finding]:
    """The gateway values must attach a BackendConfig; every BackendConfig must enable IAP."""
    backend_configs = inv.of("BackendConfig")
    for values in inv.values(GATEWAY_VALUES):
        annotations = as_dict(values.get("service", "annotations"))
        refs = [json_annotation(annotations.get(key)) for key in BACKEND_CONFIG_KEYS]
        names = {str(n) for ref in refs for k, n in ref.items() if k in ("default", "https", "443")}
        if not names:
            yield finding(
                values,
                "the gateway service names no BackendConfig, so IAP is not enabled for it",
                f"""set service.annotations["{BACKEND_CONFIG_KEYS[1]}"]: """
                """'{"default":"ingress-backend-config"}'""",
            )
        elif not backend_configs:
            yield missing(values, "BackendConfig", "the IAP settings of the gateway service")
        elif not names & {b.name for b in backend_configs}:
            yield finding(
                values,
                f"the backend-config annotation names {sorted(names)}, which matches no "
                f"BackendConfig among the files ({sorted(b.name for b in backend_configs)})",
                "make the annotation name the BackendConfig that enables IAP",
            )
    for config in backend_configs:
        if config.get("spec", "iap", "enabled") is not True:
            yield finding(config, "IAP is not enabled", "set spec.iap.enabled: true")
        if not config.get("spec", "iap", "oauthclientCredentials", "secretName"):
            yield finding(
                config,
                "IAP has no OAuth client secret",
                "set spec.iap.oauthclientCredentials.secretName to the Secret holding "
                "client_id and client_secret (e.g. iap-oauth-client-id)",
            )


def health_check(inv: Inventory) -> Iterator[Finding]:
    """The load balancer must probe the gateway's status port, or it never sends traffic."""
    for config in inv.of("BackendConfig"):
        check = as_dict(config.get("spec", "healthCheck"))
        actual = (check.get("type"), check.get("port"), check.get("requestPath"))
        if actual != ("HTTP", 15021, "/healthz/ready"):
            shown = "type {}, port {}, path {}".format(*actual)
            yield finding(
                config,
                f"health check is {shown}; the Istio gateway answers readiness elsewhere",
                "set spec.healthCheck to type: HTTP, port: 15021, requestPath: /healthz/ready",
            )


def gateway_certificate(inv: Inventory) -> Iterator[Finding]:
    """Each HTTPS server's credentialName must be the secret a Certificate writes."""
    certificates = inv.of("Certificate")
    for gateway in inv.of("Gateway"):
        names = [
            as_dict(as_dict(server).get("tls")).get("credentialName")
            for server in as_list(gateway.get("spec", "servers"))
        ]
        names = [name for name in names if isinstance(name, str) and name]
        if not any(names):
            yield finding(
                gateway,
                "no server has tls.credentialName, so the load balancer cannot reach it over TLS",
                "add an HTTPS server on port 443 with tls.mode: SIMPLE and credentialName set "
                "to the Certificate's secretName",
            )
            continue
        if not certificates:
            yield missing(gateway, "Certificate", "tls.credentialName")
            continue
        secrets = {
            str(c.get("spec", "secretName")) for c in certificates if same_namespace(gateway, c)
        }
        for name in names:
            if name not in secrets:
                yield finding(
                    gateway,
                    f"tls.credentialName {name!r} is no Certificate's secretName "
                    f"({', '.join(sorted(secrets)) or 'none in its namespace'})",
                    "set credentialName to the Certificate's spec.secretName",
                )


RULES: tuple[Callable[[Inventory], Iterator[Finding]], ...] = (
    gateway_service,
    iap_attached,
    health_check,
    gateway_certificate,
    grpc_routes,
    https_redirect,
    certificate_domains,
    internal_paths_closed,
    public_api_routed,
    backend_http2,
    stream_timeouts,
    iap_identity,
    console_sign_out,
    chart_entrances,
)
