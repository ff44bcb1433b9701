"""Rules about how requests reach Flyte: gRPC routes, HTTPS redirect, served domains."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flyte_iap.manifests.documents import Inventory
from flyte_iap.manifests.findings import Finding, as_list, finding, missing, same_namespace
from flyte_iap.manifests.flyte2_checks import routes_to_backend
from flyte_iap.manifests.render import FRONTEND_CONFIG_KEY
from flyte_iap.manifests.routes import ADMIN_GRPC_PREFIXES


def grpc_routes(inv: Inventory) -> Iterator[Finding]:
    """Every flyteidl gRPC service must be routed, or flytectl/flytekit calls get 404
    (Flyte 1: a VirtualService that routes to Flyte 2's backend has rules of its own)."""
    for service in inv.of("VirtualService"):
        if routes_to_backend(service):
            continue
        routes = [r for r in as_list(service.get("spec", "http")) if isinstance(r, dict)]
        missing = [p for p in ADMIN_GRPC_PREFIXES if not any(_routes(r, p) for r in routes)]
        if missing:
            yield finding(
                service,
                f"no http route matches the gRPC paths {', '.join(missing)}",
                "add uri prefix matches for them to the route to flyteadmin's gRPC port",
            )


def _routes(route: dict[str, Any], prefix: str) -> bool:
    matches = route.get("match")
    if not matches:  # a route without match takes every request
        return True
    if not isinstance(matches, list):
        return False
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
            yield finding(
                frontend,
                "HTTP is not redirected to HTTPS",
                "set spec.redirectToHttps.enabled: true",
            )
    for ingress in inv.of("Ingress"):
        name = ingress.get("metadata", "annotations", FRONTEND_CONFIG_KEY)
        if not name:
            yield finding(
                ingress,
                f"annotation {FRONTEND_CONFIG_KEY} is missing, so HTTP is not redirected",
                f"add {FRONTEND_CONFIG_KEY}: ingress-frontend-config",
            )
        elif not frontends:
            yield missing(ingress, "FrontendConfig", "the HTTPS redirect")
        elif not any(f.name == name and same_namespace(ingress, f) for f in frontends):
            yield finding(
                ingress,
                f"annotation {FRONTEND_CONFIG_KEY} names {name!r}, no FrontendConfig among the "
                "files in its namespace",
                "name the FrontendConfig that sets redirectToHttps",
            )


def certificate_domains(inv: Inventory) -> Iterator[Finding]:
    """Each ManagedCertificate domain must be served by a VirtualService host."""
    services = inv.of("VirtualService")
    hosts = [h for s in services for h in as_list(s.get("spec", "hosts")) if isinstance(h, str)]
    for certificate in inv.of("ManagedCertificate"):
        domains = [d for d in as_list(certificate.get("spec", "domains")) if isinstance(d, str)]
        if domains and not services:
            yield missing(certificate, "VirtualService", "its domains")
            continue
        for domain in domains:
            if not any(_host_covers(h, domain) for h in hosts):
                yield finding(
                    certificate,
                    f"domain {domain!r} is not among the VirtualService hosts {hosts}",
                    f"add {domain!r} to the VirtualService's spec.hosts (or fix the domain)",
                )


def _host_covers(host: str, domain: str) -> bool:
    if host == "*" or host == domain:
        return True
    return host.startswith("*.") and domain.endswith(host[1:])
