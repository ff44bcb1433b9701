"""Render the objects of the IAP deployment guide as plain Python dicts.

No I/O here: :func:`render` takes validated :class:`RenderOptions` and
returns a :class:`RenderedSet`; :mod:`flyte_iap.manifests.yaml_io` writes it.
Flyte 1 (flyte-core) gets the guide's objects; Flyte 2 (the flyte-binary v2
chart) the same load balancer, certificates and gateway, its own routes, a
DestinationRule for HTTP/2 to the backend, and the chart's Helm values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flyte_iap.errors import ManifestError
from flyte_iap.manifests import names
from flyte_iap.manifests.routes import (
    ADMIN_GRPC_PREFIXES,
    ADMIN_HTTP_PREFIXES,
    CONSOLE_PREFIXES,
    FLYTE2_API_PREFIXES,
    FLYTE2_CONSOLE_PATH,
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

# Flyte 2: the flyte-binary chart's Service ports (templates/service/http.yaml,
# templates/console/service.yaml, with the chart's defaults).
FLYTE2_HTTP_PORT = 8090
FLYTE2_CONSOLE_PORT = 80
# A watch (RunService Watch*, AppService Watch/Lease) or a log tail (TailLogs) is one
# HTTP response that lasts as long as the client keeps it. The load balancer ends any
# response after the backend service timeout (GCLB's default: 30 s); Google advises
# against more than a day, as its front ends restart for maintenance anyway.
STREAM_TIMEOUT_SECONDS = 86400
# What `check` accepts at least: a stream must be able to live an hour.
MIN_STREAM_SECONDS = 3600
# IAP signs every request it lets through with this header, and strips a copy a client
# sent; the backend decodes its claims (sub, email) for run attribution.
IAP_JWT_HEADER = "X-Goog-IAP-JWT-Assertion"
# IAP answers this path on every host it protects: it clears IAP's session cookie.
IAP_CLEAR_LOGIN_COOKIE = "/_gcp_iap/clear_login_cookie"


@dataclass(frozen=True)
class RenderOptions:
    """What varies between deployments; defaults follow the guide, flyte-core (Flyte 1) and
    the flyte-binary v2 chart (Flyte 2)."""

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
    flyte: int = 1
    release: str = "flyte-binary"

    def validated(self) -> RenderOptions:
        """Return self after checking every name; raise ``ManifestError`` on the first bad one."""
        self._check_generation()
        names.check_domain(self.domain)
        names.check_gcp_resource_name("--static-ip-name", self.static_ip_name)
        names.check_secret_name("--iap-oauth-secret", self.iap_oauth_secret)
        names.check_namespace("--flyte-namespace", self.flyte_namespace)
        names.check_namespace("--istio-namespace", self.istio_namespace)
        names.check_service_name("--gateway-release", self.gateway_release)
        names.check_service_name("--admin-service", self.admin_service)
        names.check_service_name("--console-service", self.console_service)
        if self.flyte == 2:
            names.check_release(self.release)
        return self

    def _check_generation(self) -> None:
        # An option of the other generation would be silently ignored: refuse it.
        if self.flyte not in (1, 2):
            raise ManifestError(f"--flyte {self.flyte} is not a Flyte generation; use 1 or 2")
        defaults = RenderOptions("", "")
        if self.flyte == 1:
            other = {"--release": self.release != defaults.release}
            where = "--flyte 2 (the flyte-binary v2 chart) — drop it, or add --flyte 2"
        else:
            other = {
                "--admin-service": self.admin_service != defaults.admin_service,
                "--admin-http-port": self.admin_http_port != defaults.admin_http_port,
                "--admin-grpc-port": self.admin_grpc_port != defaults.admin_grpc_port,
                "--console-service": self.console_service != defaults.console_service,
                "--console-port": self.console_port != defaults.console_port,
            }
            where = "--flyte 1 (flyte-core) — drop it: Flyte 2's Services are named after --release"
        given = [option for option, differs in other.items() if differs]
        if given:
            raise ManifestError(f"{', '.join(given)} applies only to {where}")


@dataclass
class RenderedSet:
    """Helm values for the ``istio/gateway`` chart and the objects to ``kubectl apply``;
    for Flyte 2 also the Helm values for the ``flyte-binary`` chart."""

    gateway_values: dict[str, Any]
    objects: list[Manifest] = field(default_factory=list)
    flyte_binary_values: dict[str, Any] | None = None
    #: Where the flyte-binary values are meant to be installed (Flyte 2).
    release: str = "flyte-binary"
    flyte_namespace: str = "flyte"


def render(options: RenderOptions) -> RenderedSet:
    """Build the Helm values and every object of the deployment, in apply order."""
    o = options.validated()
    cert_secret = f"{o.gateway_release}-cert"
    routing = [_virtual_service(o)] if o.flyte == 1 else _flyte2_routing(o)
    return RenderedSet(
        gateway_values=_gateway_values(o),
        flyte_binary_values=_flyte_binary_values(o) if o.flyte == 2 else None,
        release=o.release,
        flyte_namespace=o.flyte_namespace,
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
            *routing,
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
    spec: dict[str, Any] = {
        # The gateway answers readiness on its status port, not on 443 "/".
        "healthCheck": {"type": "HTTP", "port": 15021, "requestPath": "/healthz/ready"},
        "iap": {"enabled": True, "oauthclientCredentials": {"secretName": o.iap_oauth_secret}},
    }
    if o.flyte == 2:
        spec["timeoutSec"] = STREAM_TIMEOUT_SECONDS
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


def _flyte2_routing(o: RenderOptions) -> list[Manifest]:
    fullname = names.flyte_binary_fullname(o.release)
    api, console = f"{fullname}-http", f"{fullname}-console"

    def destination(host: str, port: int) -> list[dict[str, Any]]:
        return [{"destination": {"host": host, "port": {"number": port}}}]

    # An allow-list, never a route of "/": the backend serves its internal services
    # (task pods' ActionsService, InternalRunService, ...) on the same port.
    console_match = [
        {"uri": {"exact": FLYTE2_CONSOLE_PATH}},
        {"uri": {"prefix": f"{FLYTE2_CONSOLE_PATH}/"}},
    ]
    spec = {
        "gateways": [f"{o.istio_namespace}/{GATEWAY}"],
        "hosts": [o.domain],
        "http": [
            {
                "name": "console-routes",
                "match": console_match,
                "route": destination(console, FLYTE2_CONSOLE_PORT),
            },
            {
                # No timeout: Istio's default is none, which a watch or a log tail needs.
                "name": "api-routes",
                "match": [{"uri": {"prefix": p}} for p in FLYTE2_API_PREFIXES],
                "route": destination(api, FLYTE2_HTTP_PORT),
            },
        ],
    }
    virtual_service = _object(
        "networking.istio.io/v1", "VirtualService", VIRTUAL_SERVICE, o.flyte_namespace, spec
    )
    # The chart names the port plain `http`, so Istio would speak HTTP/1.1 to it; the
    # backend serves h2c too, and gRPC needs HTTP/2 all the way.
    policy = {"connectionPool": {"http": {"h2UpgradePolicy": "UPGRADE"}}}
    destination_rule = _object(
        "networking.istio.io/v1",
        "DestinationRule",
        api,
        o.flyte_namespace,
        {"host": api, "trafficPolicy": policy},
    )
    return [virtual_service, destination_rule]


def _flyte_binary_values(o: RenderOptions) -> dict[str, Any]:
    # Run attribution from IAP's signed header only. Empty names switch off the
    # backend's defaults, AWS ALB's plain X-Amzn-Oidc-Identity among them, which any
    # caller could send itself.
    identity = {"claimsJwtHeader": IAP_JWT_HEADER, "subjectHeader": "", "emailHeader": ""}
    # Sign out goes to IAP, which clears its own cookie; no ALB cookies to expire.
    console_env = [
        {"name": "OIDC_LOGOUT_URL", "value": f"https://{o.domain}{IAP_CLEAR_LOGIN_COOKIE}"},
        {"name": "LOGOUT_CLEAR_COOKIES", "value": ""},
    ]
    return {
        "flyte-core-components": {
            "runs": {"trustForwardedIdentityHeaders": True, "identityHeaders": identity}
        },
        # Reached through the Istio gateway only: no Service of its own outside the
        # cluster, no Ingress of the chart's (each would be a way in without IAP).
        "service": {"type": "ClusterIP"},
        "console": {"env": console_env, "service": {"type": "ClusterIP"}},
        "ingress": {
            "create": False,
            "apiJwtIngress": {"enabled": False},
            "wellknownIngress": {"enabled": False},
        },
    }
