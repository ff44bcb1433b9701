"""The dangerous mistakes ``manifests check`` looks for, as pure functions.

Rules see only the files given together. A rule that follows a reference
(Gateway -> Certificate, Ingress -> FrontendConfig, gateway values ->
BackendConfig, ManagedCertificate -> VirtualService) reports "no X among the
files" when the referring object is present but nothing it could refer to
is; a referred-to object alone (a lone Certificate) is never a finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flyte_iap.manifests.documents import HELM_VALUES, Inventory, Resource, SourceDocument, classify
from flyte_iap.manifests.render import APP_PROTOCOLS, BACKEND_CONFIG_KEYS, FRONTEND_CONFIG_KEY
from flyte_iap.manifests.routes import ADMIN_GRPC_PREFIXES


@dataclass(frozen=True)
class Finding:
    """One mistake: where, what is wrong, and how to fix it."""

    source: str
    subject: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.source}: {self.subject}: {self.problem} — {self.fix}"


def check_documents(documents: Sequence[SourceDocument]) -> list[Finding]:
    """Run every rule over documents read together; raise ``UsageError`` on unknown kinds."""
    inventory = classify(documents)
    return [finding for rule in RULES for finding in rule(inventory)]


def _finding(resource: Resource, problem: str, fix: str) -> Finding:
    return Finding(resource.doc.source, resource.subject, problem, fix)


def _missing(resource: Resource, kind: str, what: str) -> Finding:
    return _finding(
        resource,
        f"no {kind} among the files, so {what} cannot be checked",
        f"pass the file holding the {kind} in the same `check` call",
    )


def _same_namespace(a: Resource, b: Resource) -> bool:
    # An object without metadata.namespace lands in whatever `kubectl -n` says.
    return a.namespace is None or b.namespace is None or a.namespace == b.namespace


def _json_annotation(value: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def gateway_service(inv: Inventory) -> Iterator[Finding]:
    """The gateway Service must be NodePort and speak HTTP/2 (gRPC) to the load balancer."""
    for values in inv.of(HELM_VALUES):
        service_type = values.get("service", "type") or "LoadBalancer"
        if service_type != "NodePort":
            yield _finding(
                values,
                f"service.type is {service_type!r}, which exposes the gateway (and flyteadmin) "
                "to the internet without IAP",
                "set service.type: NodePort",
            )
        protocols = _json_annotation(values.get("service", "annotations", APP_PROTOCOLS))
        if protocols.get("https") != "HTTP2":
            yield _finding(
                values,
                f"service annotation {APP_PROTOCOLS} does not map port 'https' to HTTP2, "
                "so gRPC calls to flyteadmin fail",
                f"""set service.annotations["{APP_PROTOCOLS}"]: '{{"https":"HTTP2"}}'""",
            )


def iap_attached(inv: Inventory) -> Iterator[Finding]:
    """The gateway values must attach a BackendConfig; every BackendConfig must enable IAP."""
    backend_configs = inv.of("BackendConfig")
    for values in inv.of(HELM_VALUES):
        annotations = values.get("service", "annotations") or {}
        refs = [_json_annotation(annotations.get(key)) for key in BACKEND_CONFIG_KEYS]
        names = {str(n) for ref in refs for k, n in ref.items() if k in ("default", "https", "443")}
        if not names:
            yield _finding(
                values,
                "the gateway service names no BackendConfig, so IAP is not enabled for it",
                f"""set service.annotations["{BACKEND_CONFIG_KEYS[1]}"]: """
                """'{"default":"ingress-backend-config"}'""",
            )
        elif not backend_configs:
            yield _missing(values, "BackendConfig", "the IAP settings of the gateway service")
        elif not names & {b.name for b in backend_configs}:
            yield _finding(
                values,
                f"the backend-config annotation names {sorted(names)}, which matches no "
                f"BackendConfig among the files ({sorted(b.name for b in backend_configs)})",
                "make the annotation name the BackendConfig that enables IAP",
            )
    for config in backend_configs:
        if config.get("spec", "iap", "enabled") is not True:
            yield _finding(config, "IAP is not enabled", "set spec.iap.enabled: true")
        if not config.get("spec", "iap", "oauthclientCredentials", "secretName"):
            yield _finding(
                config,
                "IAP has no OAuth client secret",
                "set spec.iap.oauthclientCredentials.secretName to the Secret holding "
                "client_id and client_secret (e.g. iap-oauth-client-id)",
            )


def health_check(inv: Inventory) -> Iterator[Finding]:
    """The load balancer must probe the gateway's status port, or it never sends traffic."""
    for config in inv.of("BackendConfig"):
        check = config.get("spec", "healthCheck") or {}
        actual = (check.get("type"), check.get("port"), check.get("requestPath"))
        if actual != ("HTTP", 15021, "/healthz/ready"):
            shown = "type {}, port {}, path {}".format(*actual)
            yield _finding(
                config,
                f"health check is {shown}; the Istio gateway answers readiness elsewhere",
                "set spec.healthCheck to type: HTTP, port: 15021, requestPath: /healthz/ready",
            )


def gateway_certificate(inv: Inventory) -> Iterator[Finding]:
    """Each HTTPS server's credentialName must be the secret a Certificate writes."""
    certificates = inv.of("Certificate")
    for gateway in inv.of("Gateway"):
        names = [
            server.get("tls", {}).get("credentialName")
            for server in gateway.get("spec", "servers") or []
            if isinstance(server, dict) and isinstance(server.get("tls"), dict)
        ]
        if not any(names):
            yield _finding(
                gateway,
                "no server has tls.credentialName, so the load balancer cannot reach it over TLS",
                "add an HTTPS server on port 443 with tls.mode: SIMPLE and credentialName set "
                "to the Certificate's secretName",
            )
            continue
        if not certificates:
            yield _missing(gateway, "Certificate", "tls.credentialName")
            continue
        secrets = {c.get("spec", "secretName") for c in certificates if _same_namespace(gateway, c)}
        for name in names:
            if name and name not in secrets:
                yield _finding(
                    gateway,
                    f"tls.credentialName {name!r} is no Certificate's secretName "
                    f"({', '.join(sorted(str(s) for s in secrets)) or 'none in its namespace'})",
                    "set credentialName to the Certificate's spec.secretName",
                )


def grpc_routes(inv: Inventory) -> Iterator[Finding]:
    """Every flyteidl gRPC service must be routed, or flytectl/flytekit calls get 404."""
    for service in inv.of("VirtualService"):
        routes = [r for r in service.get("spec", "http") or [] if isinstance(r, dict)]
        missing = [p for p in ADMIN_GRPC_PREFIXES if not any(_routes(r, p) for r in routes)]
        if missing:
            yield _finding(
                service,
                f"no http route matches the gRPC paths {', '.join(missing)}",
                "add uri prefix matches for them to the route to flyteadmin's gRPC port",
            )


def _routes(route: dict[str, Any], prefix: str) -> bool:
    matches = route.get("match")
    if not matches:  # a route without match takes every request
        return True
    path = f"{prefix}/Method"
    for match in matches:
        uri = match.get("uri") if isinstance(match, dict) else None
        if not isinstance(uri, dict):
            continue
        if isinstance(uri.get("prefix"), str) and path.startswith(uri["prefix"]):
            return True
        regex = uri.get("regex")
        if isinstance(regex, str) and re.fullmatch(regex, path):
            return True
    return False


def https_redirect(inv: Inventory) -> Iterator[Finding]:
    """HTTP must be redirected: the Ingress names a FrontendConfig with redirectToHttps."""
    frontends = inv.of("FrontendConfig")
    for frontend in frontends:
        if frontend.get("spec", "redirectToHttps", "enabled") is not True:
            yield _finding(
                frontend,
                "HTTP is not redirected to HTTPS",
                "set spec.redirectToHttps.enabled: true",
            )
    for ingress in inv.of("Ingress"):
        name = ingress.get("metadata", "annotations", FRONTEND_CONFIG_KEY)
        if not name:
            yield _finding(
                ingress,
                f"annotation {FRONTEND_CONFIG_KEY} is missing, so HTTP is not redirected",
                f"add {FRONTEND_CONFIG_KEY}: ingress-frontend-config",
            )
        elif not frontends:
            yield _missing(ingress, "FrontendConfig", "the HTTPS redirect")
        elif not any(f.name == name and _same_namespace(ingress, f) for f in frontends):
            yield _finding(
                ingress,
                f"annotation {FRONTEND_CONFIG_KEY} names {name!r}, no FrontendConfig among the "
                "files in its namespace",
                "name the FrontendConfig that sets redirectToHttps",
            )


def certificate_domains(inv: Inventory) -> Iterator[Finding]:
    """Each ManagedCertificate domain must be served by a VirtualService host."""
    services = inv.of("VirtualService")
    hosts = [h for s in services for h in s.get("spec", "hosts") or [] if isinstance(h, str)]
    for certificate in inv.of("ManagedCertificate"):
        domains = [d for d in certificate.get("spec", "domains") or [] if isinstance(d, str)]
        if domains and not services:
            yield _missing(certificate, "VirtualService", "its domains")
            continue
        for domain in domains:
            if not any(_host_covers(h, domain) for h in hosts):
                yield _finding(
                    certificate,
                    f"domain {domain!r} is not among the VirtualService hosts {hosts}",
                    f"add {domain!r} to the VirtualService's spec.hosts (or fix the domain)",
                )


def _host_covers(host: str, domain: str) -> bool:
    if host == "*" or host == domain:
        return True
    return host.startswith("*.") and domain.endswith(host[1:])


RULES: tuple[Callable[[Inventory], Iterator[Finding]], ...] = (
    gateway_service,
    iap_attached,
    health_check,
    gateway_certificate,
    grpc_routes,
    https_redirect,
    certificate_domains,
)
