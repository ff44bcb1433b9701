"""Render the objects of the IAP deployment guide as plain Python dicts.

No I/O here: :func:`render` takes validated :class:`RenderOptions` and
returns a :class:`RenderedSet`; :mod:`flyte_iap.manifests.yaml_io` writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flyte_iap.manifests import names
from flyte_iap.manifests.routes import (
    ADMIN_GRPC_PREFIXES,
    ADMIN_HTTP_PREFIXES,
    CONSOLE_PREFIXES,
)

Manifest = dict[str, Any]

BACKEND_CONFIG = "ingress-backend-config"
FRONTEND_CONFIG = "ingress-frontend-config"
ISSUER = "selfsigned-issuer"
GATEWAY = "default-gateway"
MANAGED_CERTIFICATE = "flyte-managed-certificate"
INGRESS = "flyte-ingress"
VIRTUAL_SERVICE = "flyte-virtualservice"

# Annotation keys the GKE ingress controller reads.
APP_PROTOCOLS = "cloud.google.com/app-protocols"
BACKEND_CONFIG_KEYS = ("cloud.google.com/backend-config", "beta.cloud.google.com/backend-config")
FRONTEND_CONFIG_KEY = "networking.gke.io/v1beta1.FrontendConfig"


@dataclass(frozen=True)
class RenderOptions:
    """What varies between deployments; defaults follow the guide and flyte-core."""

    domain: str
    static_ip_name: str
    iap_oauth_secret: str = "iap-oauth-client-id"
    flyte_namespace: str = "flyte"
    istio_namespace: str = "istio-system"
    gateway_release: str = "istio-ingress"
    admin_service: str = "flyteadmin"
    admin_http_port: int = 80
    admin_grpc_port: int = 81
    console_service: str = "flyteconsole"
    console_port: int = 80

    def validated(self) -> RenderOptions:
        """Return self after checking every name; raise ``ManifestError`` on the first bad one."""
        names.check_domain(self.domain)
        names.check_gcp_resource_name("--static-ip-name", self.static_ip_name)
        names.check_secret_name("--iap-oauth-secret", self.iap_oauth_secret)
        names.check_namespace("--flyte-namespace", self.flyte_namespace)
        names.check_namespace("--istio-namespace", self.istio_namespace)
        names.check_service_name("--gateway-release", self.gateway_release)
        names.check_service_name("--admin-service", self.admin_service)
        names.check_service_name("--console-service", self.console_service)
        return self


@dataclass
class RenderedSet:
    """Helm values for the ``istio/gateway`` chart and the objects to ``kubectl apply``."""

    gateway_values: dict[str, Any]
    objects: list[Manifest] = field(default_factory=list)


def render(options: RenderOptions) -> RenderedSet:
    """Build the gateway values and every object of the guide, in apply order."""
    o = options.validated()
    cert_secret = f"{o.gateway_release}-cert"
    return RenderedSet(
        gateway_values=_gateway_values(o),
        objects=[
            _backend_config(o),
            _object("cert-manager.io/v1", "Issuer", ISSUER, o.istio_namespace, {"selfSigned": {}}),
            _certificate(o, cert_secret),
            _gateway(o, cert_secret),
            _object(
                "networking.gke.io/v1",
                "ManagedCertificate",
                MANAGED_CERTIFICATE,
                o.istio_namespace,
                {"domains": [o.domain]},
            ),
            _frontend_config(o),
            _ingress(o),
            _virtual_service(o),
        ],
    )


def _object(
    api_version: str, kind: str, name: str, namespace: str, spec: dict[str, Any]
) -> Manifest:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _gateway_values(o: RenderOptions) -> dict[str, Any]:
    # NodePort, never the chart's default LoadBalancer: a LoadBalancer
    # service would expose the gateway, and flyteadmin, without IAP.
    return {
        "service": {
            "type": "NodePort",
            "annotations": {
                BACKEND_CONFIG_KEYS[1]: json.dumps({"default": BACKEND_CONFIG}),
                APP_PROTOCOLS: json.dumps({"https": "HTTP2"}),
            },
        }
    }


def _backend_config(o: RenderOptions) -> Manifest:
    spec = {
        # The gateway answers readiness on its status port, not on 443 "/".
        "healthCheck": {"type": "HTTP", "port": 15021, "requestPath": "/healthz/ready"},
        "iap": {"enabled": True, "oauthclientCredentials": {"secretName": o.iap_oauth_secret}},
    }
    return _object("cloud.google.com/v1", "BackendConfig", BACKEND_CONFIG, o.istio_namespace, spec)


def _certificate(o: RenderOptions, secret: str) -> Manifest:
    service = f"{o.gateway_release}.{o.istio_namespace}.svc"
    spec = {
        "commonName": o.gateway_release,
        "dnsNames": [o.gateway_release, service, f"{service}.cluster.local"],
        "issuerRef": {"kind": "Issuer", "name": ISSUER},
        "secretName": secret,
    }
    return _object("cert-manager.io/v1", "Certificate", secret, o.istio_namespace, spec)


def _gateway(o: RenderOptions, cert_secret: str) -> Manifest:
    # The istio/gateway chart labels its pods app=<release>, istio=<release minus "istio-">.
    istio_label = o.gateway_release.removeprefix("istio-")
    server = {
        "hosts": ["*"],
        "port": {"name": "https", "number": 443, "protocol": "HTTPS"},
        "tls": {"mode": "SIMPLE", "credentialName": cert_secret},
    }
    spec = {
        "selector": {"app": o.gateway_release, "istio": istio_label},
        "servers": [server],
    }
    return _object("networking.istio.io/v1", "Gateway", GATEWAY, o.istio_namespace, spec)


def _frontend_config(o: RenderOptions) -> Manifest:
    spec = {"redirectToHttps": {"enabled": True, "responseCodeName": "MOVED_PERMANENTLY_DEFAULT"}}
    return _object(
        "networking.gke.io/v1beta1", "FrontendConfig", FRONTEND_CONFIG, o.istio_namespace, spec
    )


def _ingress(o: RenderOptions) -> Manifest:
    backend = {"service": {"name": o.gateway_release, "port": {"number": 443}}}
    spec = {
        "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]
    }
    ingress = _object("networking.k8s.io/v1", "Ingress", INGRESS, o.istio_namespace, spec)
    ingress["metadata"]["annotations"] = {
        "kubernetes.io/ingress.class": "gce",
        # HTTP stays open only so the FrontendConfig can redirect it to HTTPS.
        "kubernetes.io/ingress.allow-http": "true",
        "kubernetes.io/ingress.global-static-ip-name": o.static_ip_name,
        "networking.gke.io/managed-certificates": MANAGED_CERTIFICATE,
        FRONTEND_CONFIG_KEY: FRONTEND_CONFIG,
    }
    return ingress


def _virtual_service(o: RenderOptions) -> Manifest:
    def route(name: str, prefixes: tuple[str, ...], host: str, port: int) -> dict[str, Any]:
        return {
            "name": name,
            "match": [{"uri": {"prefix": p}} for p in prefixes],
            "route": [{"destination": {"host": host, "port": {"number": port}}}],
        }

    spec = {
        "gateways": [f"{o.istio_namespace}/{GATEWAY}"],
        "hosts": [o.domain],
        "http": [
            route("console-routes", CONSOLE_PREFIXES, o.console_service, o.console_port),
            route("admin-routes", ADMIN_HTTP_PREFIXES, o.admin_service, o.admin_http_port),
            route("admin-grpc-routes", ADMIN_GRPC_PREFIXES, o.admin_service, o.admin_grpc_port),
        ],
    }
    return _object(
        "networking.istio.io/v1", "VirtualService", VIRTUAL_SERVICE, o.flyte_namespace, spec
    )
