"""Rules for Flyte 2: the flyte-binary v2 chart's backend behind the Istio gateway.

A set is Flyte 2 when a VirtualService routes to port 8090 of a Service named
``*-http`` (the chart's ``<fullname>-http``), or when flyte-binary Helm values are
among the files. Its routes must reach the public API and the console and nothing
the backend serves to task pods only; the gateway must speak HTTP/2 to the backend;
nothing may end a stream within the hour; run attribution must come from IAP's
signed header alone; and nothing of the chart may be a way in beside IAP.

The flyte-binary values are read as Helm merges ``-f a -f b``: the last document
that sets a key wins, and a finding names that document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from flyte_iap.manifests.documents import FLYTE_BINARY_VALUES, Inventory, Resource
from flyte_iap.manifests.findings import Finding, as_dict, as_list, finding
from flyte_iap.manifests.matching import (
    Destination,
    destinations,
    duration_seconds,
    first_route,
    http_routes,
    service_of,
)
from flyte_iap.manifests.render import (
    FLYTE2_CONSOLE_PORT,
    FLYTE2_HTTP_PORT,
    IAP_CLEAR_LOGIN_COOKIE,
    IAP_JWT_HEADER,
    MIN_STREAM_SECONDS,
    STREAM_TIMEOUT_SECONDS,
)
from flyte_iap.manifests.routes import (
    FLYTE2_API_PREFIXES,
    FLYTE2_CONSOLE_PATH,
    FLYTE2_INTERNAL_HTTP_PATHS,
    FLYTE2_INTERNAL_PATHS,
)

# The backend's own defaults (flyteorg/flyte runs/config/config.go): AWS ALB's headers.
_BACKEND_DEFAULT_HEADERS = {
    "claimsJwtHeader": "X-Amzn-Oidc-Data",
    "subjectHeader": "X-Amzn-Oidc-Identity",
}
_SHOWN_PATHS = 4


def is_backend(destination: Destination) -> bool:
    """Whether a route destination is the chart's API Service (``<fullname>-http``, whose
    one port is 8090; a destination may leave the port out)."""
    return destination.name.endswith("-http") and destination.port in (FLYTE2_HTTP_PORT, None)


def routes_to_backend(service: Resource) -> bool:
    """Whether a VirtualService sends anything to the backend on port 8090: what makes a
    set Flyte 2 (a portless destination alone does not, Flyte 1's flyte-binary has
    ``-http`` Services too)."""
    return any(
        d.name.endswith("-http") and d.port == FLYTE2_HTTP_PORT
        for route in http_routes(service.get("spec"))
        for d in destinations(route, service.namespace)
    )


def is_flyte2(inv: Inventory) -> bool:
    """Whether the files checked together deploy Flyte 2."""
    return bool(inv.values(FLYTE_BINARY_VALUES)) or any(
        routes_to_backend(s) for s in inv.of("VirtualService")
    )


def _at_gateway(inv: Inventory) -> list[Resource]:
    # Only a VirtualService bound to a gateway is reached from outside; without
    # spec.gateways (or with "mesh" alone) it applies to sidecars in the mesh.
    return [
        service
        for service in inv.of("VirtualService")
        if any(isinstance(g, str) and g != "mesh" for g in as_list(service.get("spec", "gateways")))
    ]


def _route_name(routes: Sequence[Any], index: int) -> str:
    name = as_dict(routes[index]).get("name")
    return repr(name) if isinstance(name, str) and name else f"number {index + 1}"


def _to_backend(route: Any, service: Resource) -> list[Destination]:
    return [d for d in destinations(route, service.namespace) if is_backend(d)]


def _service_of_path(path: str) -> str:
    return path if path in FLYTE2_INTERNAL_HTTP_PATHS else path.rsplit("/", 1)[0] + "/"


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN_PATHS])
    more = len(items) - _SHOWN_PATHS
    return shown + (f" and {more} more" if more > 0 else "")


def internal_paths_closed(inv: Inventory) -> Iterator[Finding]:
    """No route of a gateway's VirtualService may send an internal path to the backend.

    Each internal path the backend serves (flyteorg/flyte ``*/setup.go``) is walked
    through the routes in Istio's first-match order; the route it lands on must not
    send it to the backend. A route to the backend that rewrites the path could send
    anything anywhere, so it is refused too.
    """
    if not is_flyte2(inv):
        return
    for service in _at_gateway(inv):
        routes = http_routes(service.get("spec"))
        landed: dict[int, list[str]] = {}
        for path in FLYTE2_INTERNAL_PATHS:
            index = first_route(routes, path)
            if index is not None and _to_backend(routes[index], service):
                found = landed.setdefault(index, [])
                if _service_of_path(path) not in found:
                    found.append(_service_of_path(path))
        for index, paths in sorted(landed.items()):
            host = _to_backend(routes[index], service)[0].name
            yield finding(
                service,
                f"http route {_route_name(routes, index)} sends the backend's internal "
                f"{_listed(paths)} to {host}: only task pods may call them",
                "match only the public API prefixes (as `flyte-iap manifests render --flyte 2` "
                "writes them), never '/' or a prefix or regex that covers these",
            )
        for index, route in enumerate(routes):
            rewrite = as_dict(as_dict(route).get("rewrite"))
            if _to_backend(route, service) and ("uri" in rewrite or "uriRegexRewrite" in rewrite):
                yield finding(
                    service,
                    f"http route {_route_name(routes, index)} rewrites the path it sends to the "
                    "backend, so any path it matches may reach an internal service",
                    "route the public API prefixes to the backend unchanged, without rewrite",
                )


def public_api_routed(inv: Inventory) -> Iterator[Finding]:
    """Each public API service must reach the backend and ``/v2`` the console, through the
    routes of the gateway's VirtualServices (in file order, as Istio merges them)."""
    services = [s for s in _at_gateway(inv) if routes_to_backend(s)]
    if not services:
        return
    routes = [(s, r) for s in services for r in http_routes(s.get("spec"))]

    def reaches(path: str, wanted: Callable[[Destination], bool]) -> bool:
        index = first_route([r for _, r in routes], path)
        if index is None:
            return False
        owner, route = routes[index]
        return any(wanted(d) for d in destinations(route, owner.namespace))

    missing = [p for p in FLYTE2_API_PREFIXES if not reaches(p + "Method", is_backend)]
    if missing:
        yield finding(
            services[0],
            f"no http route sends the public API {_listed(missing)} to the backend, so the "
            "Flyte 2 SDK and console get 404 for them",
            f"add uri prefix matches for them to the route to <fullname>-http port "
            f"{FLYTE2_HTTP_PORT}",
        )
    if not reaches(f"{FLYTE2_CONSOLE_PATH}/", lambda d: d.name.endswith("-console")):
        yield finding(
            services[0],
            f"no http route sends {FLYTE2_CONSOLE_PATH}/ to the console",
            f"add a route of uri prefix {FLYTE2_CONSOLE_PATH}/ (and exact {FLYTE2_CONSOLE_PATH}) "
            f"to <fullname>-console port {FLYTE2_CONSOLE_PORT}",
        )


def _backends(inv: Inventory) -> dict[tuple[str, str | None], Resource]:
    found: dict[tuple[str, str | None], Resource] = {}
    for service in inv.of("VirtualService"):
        for route in http_routes(service.get("spec")):
            for d in _to_backend(route, service):
                found.setdefault((d.name, d.namespace), service)
    return found


def _rules_for(inv: Inventory, name: str, namespace: str | None) -> list[Resource]:
    rules = []
    for rule in inv.of("DestinationRule"):
        host = rule.get("spec", "host")
        if not isinstance(host, str):
            continue
        rule_name, rule_namespace = service_of(host, rule.namespace)
        if rule_name == name and (
            None in (namespace, rule_namespace) or namespace == rule_namespace
        ):
            rules.append(rule)
    return rules


def _connection_pool(rule: Resource) -> dict[str, Any]:
    # A port's own settings replace the rule's for that port.
    policy = as_dict(rule.get("spec", "trafficPolicy"))
    for settings in as_list(policy.get("portLevelSettings")):
        settings = as_dict(settings)
        port = as_dict(settings.get("port")).get("number")
        if port == FLYTE2_HTTP_PORT and "connectionPool" in settings:
            return as_dict(settings.get("connectionPool"))
    return as_dict(policy.get("connectionPool"))


def backend_http2(inv: Inventory) -> Iterator[Finding]:
    """The gateway must speak HTTP/2 to the backend: a DestinationRule for its Service
    with ``h2UpgradePolicy: UPGRADE`` (the chart names the port plain ``http``)."""
    if not is_flyte2(inv):
        return
    for (name, namespace), service in _backends(inv).items():
        rules = _rules_for(inv, name, namespace)
        if not rules:
            yield finding(
                service,
                f"no DestinationRule among the files makes Istio speak HTTP/2 to {name}; its "
                "port is named plain 'http', so Istio speaks HTTP/1.1 and gRPC calls fail",
                f"add a DestinationRule with host {name} and "
                "trafficPolicy.connectionPool.http.h2UpgradePolicy: UPGRADE",
            )
        for rule in rules:
            http = as_dict(_connection_pool(rule).get("http"))
            policy = http.get("h2UpgradePolicy")
            if policy == "UPGRADE" and http.get("useClientProtocol") is not True:
                continue
            if policy == "UPGRADE":
                shown = "useClientProtocol is true"
            else:
                shown = "h2UpgradePolicy is " + ("unset" if policy is None else repr(policy))
            yield finding(
                rule,
                f"{shown} for {name}, so Istio speaks HTTP/1.1 to the backend and gRPC calls fail",
                "set spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: UPGRADE "
                "(without useClientProtocol)",
            )


def _short(field: str, value: Any) -> str | None:
    """Why a duration ``value`` ends a stream within the hour, or None when it does not."""
    if value is None:
        return None
    seconds = duration_seconds(value)
    if seconds is None:
        return f"{field} {value!r} is not a duration"
    if seconds < MIN_STREAM_SECONDS:
        return f"{field} is {value}, which ends a watch or log stream after {seconds:g} s"
    return None


def stream_timeouts(inv: Inventory) -> Iterator[Finding]:
    """Nothing between a client and the backend may end a stream within the hour: the load
    balancer's backend service timeout, a route's timeout or per-try timeout, the
    DestinationRule's maximum connection duration."""
    if not is_flyte2(inv):
        return
    yield from _load_balancer_timeouts(inv)
    yield from _route_timeouts(inv)
    yield from _connection_durations(inv)


def _load_balancer_timeouts(inv: Inventory) -> Iterator[Finding]:
    fix = (
        f"set spec.timeoutSec: {STREAM_TIMEOUT_SECONDS} (at least {MIN_STREAM_SECONDS} s; "
        f"render writes {STREAM_TIMEOUT_SECONDS})"
    )
    for config in inv.of("BackendConfig"):
        value = config.get("spec", "timeoutSec")
        if value is None:
            yield finding(
                config,
                "timeoutSec is unset: GCLB's default ends a watch or log stream after 30 s",
                fix,
            )
        elif isinstance(value, bool) or not isinstance(value, int):
            yield finding(config, f"timeoutSec is {value!r}, not a number of seconds", fix)
        elif value < MIN_STREAM_SECONDS:
            yield finding(
                config,
                f"timeoutSec is {value}: the load balancer ends a watch or log stream after "
                f"{value} s",
                fix,
            )


def _route_timeouts(inv: Inventory) -> Iterator[Finding]:
    for service in inv.of("VirtualService"):
        routes = http_routes(service.get("spec"))
        for index, route in enumerate(routes):
            if not _to_backend(route, service):
                continue
            retries = as_dict(as_dict(route).get("retries"))
            limits = {
                "timeout": as_dict(route).get("timeout"),
                "retries.perTryTimeout": retries.get("perTryTimeout"),
            }
            for field, value in limits.items():
                problem = _short(field, value)
                if problem:
                    yield finding(
                        service,
                        f"http route {_route_name(routes, index)}: {problem}",
                        f"remove the route's {field} (Istio's default is none) or make it "
                        f"{MIN_STREAM_SECONDS}s or more",
                    )


def _connection_durations(inv: Inventory) -> Iterator[Finding]:
    for name, namespace in _backends(inv):
        for rule in _rules_for(inv, name, namespace):
            tcp = as_dict(_connection_pool(rule).get("tcp"))
            problem = _short("tcp.maxConnectionDuration", tcp.get("maxConnectionDuration"))
            if problem:
                yield finding(
                    rule,
                    f"{problem} (it closes the connection, streams and all)",
                    "remove connectionPool.tcp.maxConnectionDuration or make it "
                    f"{MIN_STREAM_SECONDS}s or more",
                )


def _setting(docs: Sequence[Resource], *path: str) -> tuple[Resource, Any]:
    """The value Helm would use for ``path`` from values given as ``-f`` in this order,
    and the document that set it (the last one when none did)."""
    for doc in reversed(docs):
        value = doc.get(*path)
        if value is not None:
            return doc, value
    return docs[-1], None


def iap_identity(inv: Inventory) -> Iterator[Finding]:
    """Run attribution must come from IAP's signed header alone.

    The backend decodes (without verifying) the claims of ``claimsJwtHeader`` and,
    failing that, believes the plain ``subjectHeader``/``emailHeader``. IAP signs its
    header and strips a client's copy, so only it is safe; a plain header is one any
    caller can send. Settings under ``configuration.inline`` are merged last by the
    chart, so they win over ``flyte-core-components``.
    """
    docs = inv.values(FLYTE_BINARY_VALUES)
    if not docs:
        return

    def runs(*path: str) -> tuple[Resource, Any]:
        inline = _setting(docs, "configuration", "inline", "runs", *path)
        return (
            inline
            if inline[1] is not None
            else _setting(docs, "flyte-core-components", "runs", *path)
        )

    prefix = "flyte-core-components.runs.identityHeaders"
    doc, claims = runs("identityHeaders", "claimsJwtHeader")
    if not (isinstance(claims, str) and claims.lower() == IAP_JWT_HEADER.lower()):
        shown = (
            f"unset, so the backend reads {_BACKEND_DEFAULT_HEADERS['claimsJwtHeader']} (AWS ALB's)"
            if claims is None
            else repr(claims)
        )
        yield finding(
            doc,
            f"identityHeaders.claimsJwtHeader is {shown}, not IAP's signed header",
            f"set {prefix}.claimsJwtHeader: {IAP_JWT_HEADER}",
        )
    for key in ("subjectHeader", "emailHeader"):
        doc, value = runs("identityHeaders", key)
        default = _BACKEND_DEFAULT_HEADERS.get(key)
        if value is None and default is not None:
            shown = f"unset, so the backend reads {default} (AWS ALB's)"
        elif value is not None and value != "":
            shown = repr(value)
        else:
            continue
        yield finding(
            doc,
            f"identityHeaders.{key} is {shown}, a plain header any caller can send to run "
            "as someone else",
            f'set {prefix}.{key}: ""',
        )
    doc, trust = runs("trustForwardedIdentityHeaders")
    if trust is not None and str(trust).lower() != "true":
        yield finding(
            doc,
            f"trustForwardedIdentityHeaders is {trust!r}: runs get no author and "
            "IdentityService answers Unauthenticated to everyone",
            "set flyte-core-components.runs.trustForwardedIdentityHeaders: true (IAP strips "
            "a client's own copy of its signed header)",
        )


def console_sign_out(inv: Inventory) -> Iterator[Finding]:
    """The console's Sign out must end the IAP session, at IAP's own endpoint."""
    docs = inv.values(FLYTE_BINARY_VALUES)
    if not docs:
        return
    doc, env = _setting(docs, "console", "env")
    variables = {
        e.get("name"): e.get("value")
        for e in as_list(env)
        if isinstance(e, dict) and isinstance(e.get("name"), str)
    }
    url = variables.get("OIDC_LOGOUT_URL")
    # IAP answers the path on the host it protects: an https URL there, or the path alone.
    at_iap = isinstance(url, str) and url.endswith(IAP_CLEAR_LOGIN_COOKIE)
    if not (at_iap and str(url).startswith(("https://", "/"))):
        hosts = [h for s in inv.of("VirtualService") for h in as_list(s.get("spec", "hosts"))]
        domain = next((h for h in hosts if isinstance(h, str) and "*" not in h), "<your domain>")
        shown = "unset" if url is None else repr(url)
        yield finding(
            doc,
            f"console.env OIDC_LOGOUT_URL is {shown}, so Sign out leaves the IAP session open",
            f"set console.env OIDC_LOGOUT_URL: https://{domain}{IAP_CLEAR_LOGIN_COOKIE} and "
            'LOGOUT_CLEAR_COOKIES: ""',
        )


def chart_entrances(inv: Inventory) -> Iterator[Finding]:
    """Nothing of the chart may be reachable from outside but through the gateway."""
    docs = inv.values(FLYTE_BINARY_VALUES)
    if not docs:
        return
    for path in (
        ("ingress", "create"),
        ("ingress", "apiJwtIngress", "enabled"),
        ("ingress", "wellknownIngress", "enabled"),
    ):
        doc, value = _setting(docs, *path)
        if value is True:
            key = ".".join(path)
            yield finding(
                doc,
                f"{key} is true: the chart's own Ingress is a way in beside the gateway, "
                "without IAP",
                f"set {key}: false (the Istio gateway routes to the backend)",
            )
    exposes: dict[tuple[str, ...], str] = {
        ("service", "type"): "the backend, internal services too,",
        ("console", "service", "type"): "the console",
    }
    for keys, what in exposes.items():
        doc, value = _setting(docs, *keys)
        if value not in (None, "ClusterIP"):
            key = ".".join(keys)
            yield finding(
                doc,
                f"{key} is {value!r}, which exposes {what} outside the cluster without IAP",
                f"set {key}: ClusterIP",
            )
