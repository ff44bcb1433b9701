"""How Istio picks the HTTP route of a VirtualService for a path, and reads a duration.

Istio tries a VirtualService's ``http`` routes in order and takes the first one
with a request match that holds; a route without ``match`` takes every request.
Only the path is modelled here. A request match's other conditions (headers,
method, query, port) are taken to hold, since a client can meet them: for the
question "can this path reach that Service?" check errs towards yes. For the same
reason a regex that Python cannot compile is taken to match every path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from flyte_iap.manifests.findings import as_dict, as_list


class Destination(NamedTuple):
    """Where a route sends requests: a Service's name and namespace, and the port if given."""

    name: str
    namespace: str | None
    port: int | None


def uri_matches(uri: Any, path: str, *, ignore_case: bool = False) -> bool:
    """Whether an Istio ``StringMatch`` (exact, prefix or RE2 regex) holds for ``path``."""
    uri = as_dict(uri)
    subject = path.lower() if ignore_case else path
    exact, prefix, regex = uri.get("exact"), uri.get("prefix"), uri.get("regex")
    if isinstance(exact, str):
        return subject == (exact.lower() if ignore_case else exact)
    if isinstance(prefix, str):
        return subject.startswith(prefix.lower() if ignore_case else prefix)
    if isinstance(regex, str):
        # Envoy matches a route regex against the whole path (RE2; Python's re reads
        # the common subset the same way).
        try:
            return re.fullmatch(regex, path, re.IGNORECASE if ignore_case else 0) is not None
        except re.error:
            return True
    return True  # no condition on the path


def route_takes(route: Any, path: str) -> bool:
    """Whether an HTTP route's ``match`` list holds for ``path`` (no list: every path)."""
    matches = as_dict(route).get("match")
    if not matches:
        return True
    return any(
        isinstance(match, dict)
        and uri_matches(match.get("uri"), path, ignore_case=match.get("ignoreUriCase") is True)
        for match in as_list(matches)
    )


def first_route(routes: Sequence[Any], path: str) -> int | None:
    """The index of the route Istio picks for ``path``, or None when none matches (404)."""
    for index, route in enumerate(routes):
        if isinstance(route, dict) and route_takes(route, path):
            return index
    return None


def http_routes(virtual_service_spec: Any) -> list[Any]:
    """The ``http`` routes of a VirtualService spec, as written (odd entries kept in place)."""
    return as_list(as_dict(virtual_service_spec).get("http"))


def destinations(route: Any, namespace: str | None) -> Iterator[Destination]:
    """Every Service a route sends requests to: its weighted destinations and mirrors
    (a mirrored request reaches the Service too). Short host names are in ``namespace``."""
    route = as_dict(route)
    targets = [as_dict(entry).get("destination") for entry in as_list(route.get("route"))]
    targets.append(route.get("mirror"))
    targets += [as_dict(entry).get("destination") for entry in as_list(route.get("mirrors"))]
    for target in targets:
        target = as_dict(target)
        host = target.get("host")
        if not isinstance(host, str) or not host:
            continue
        number = as_dict(target.get("port")).get("number")
        port = number if isinstance(number, int) and not isinstance(number, bool) else None
        yield Destination(*service_of(host, namespace), port)


def service_of(host: str, namespace: str | None) -> tuple[str, str | None]:
    """A Kubernetes Service host (``name``, ``name.ns``, ``name.ns.svc.cluster.local``) as
    (name, namespace); a short name is in ``namespace``, the namespace of the rule."""
    labels = host.split(".")
    return labels[0], labels[1] if len(labels) > 1 else namespace


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def duration_seconds(value: Any) -> float | None:
    """A duration as Istio's resources spell it (``30s``, ``1.5s``, ``1h30m``, ``500ms``:
    the protobuf form and Go's, which the CRDs' validation accepts), in seconds; None when
    ``value`` is no such string."""
    if not isinstance(value, str) or not value:
        return None
    if value == "0":
        return 0.0
    total, position = 0.0, 0
    while position < len(value):
        part = _DURATION_PART.match(value, position)
        if part is None:
            return None
        total += float(part[1]) * _UNIT_SECONDS[part[2]]
        position = part.end()
    return total
