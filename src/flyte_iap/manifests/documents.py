"""Sorting YAML documents into the objects ``manifests check`` knows.

A document with an ``apiVersion`` is a Kubernetes object and must be one of
the kinds of the deployment; a document without one is taken as Helm values:
the ``flyte-binary`` chart's (Flyte 2) when it has a top-level key of that chart
that the gateway chart lacks, else the ``istio/gateway`` chart's (whose values may
carry ``kind: Deployment``, so ``kind`` alone does not decide).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flyte_iap.errors import ManifestError

HELM_VALUES = "HelmValues"
#: The names of the two kinds of Helm values, as shown in findings (``HelmValues/<name>``).
GATEWAY_VALUES = "istio-gateway"
FLYTE_BINARY_VALUES = "flyte-binary"
# Top-level keys of the flyte-binary chart's values.yaml that istio/gateway's lacks.
_FLYTE_BINARY_KEYS = frozenset(
    {
        "flyte-core-components",
        "configuration",
        "console",
        "deployment",
        "ingress",
        "enabled_plugins",
        "flyteconnector",
        "nameOverride",
        "fullnameOverride",
    }
)

# (API group, kind) pairs of the guide, plus kinds that may sit beside them.
KNOWN_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("cloud.google.com", "BackendConfig"),
        ("cert-manager.io", "Issuer"),
        ("cert-manager.io", "ClusterIssuer"),
        ("cert-manager.io", "Certificate"),
        ("networking.istio.io", "Gateway"),
        ("networking.istio.io", "VirtualService"),
        ("networking.istio.io", "DestinationRule"),
        ("networking.gke.io", "ManagedCertificate"),
        ("networking.gke.io", "FrontendConfig"),
        ("networking.k8s.io", "Ingress"),
        ("kustomize.config.k8s.io", "Kustomization"),
    }
)


@dataclass(frozen=True)
class SourceDocument:
    """One YAML document and where it came from (file name and 1-based position)."""

    source: str
    position: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """A classified document: its kind, name and namespace, and a safe field lookup."""

    doc: SourceDocument
    kind: str
    name: str
    namespace: str | None

    @property
    def subject(self) -> str:
        """``Kind/name`` as shown in findings."""
        return f"{self.kind}/{self.name}"

    def get(self, *path: str | int) -> Any:
        """The value at ``path`` below the document root, or None when any step is missing."""
        node: Any = self.doc.body
        for step in path:
            if isinstance(step, int):
                ok = isinstance(node, list) and -len(node) <= step < len(node)
                node = node[step] if ok else None
            else:
                node = node.get(step) if isinstance(node, dict) else None
            if node is None:
                return None
        return node


class Inventory:
    """All resources of the files checked together, grouped by kind."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = list(resources)

    def of(self, kind: str) -> list[Resource]:
        """The resources of one kind, in file order."""
        return [r for r in self.resources if r.kind == kind]

    def values(self, chart: str) -> list[Resource]:
        """The Helm values documents of one chart (``GATEWAY_VALUES`` or
        ``FLYTE_BINARY_VALUES``), in file order: the order of ``helm -f``."""
        return [r for r in self.of(HELM_VALUES) if r.name == chart]


def classify(documents: Sequence[SourceDocument]) -> Inventory:
    """Turn documents into resources; raise ``ManifestError`` on a kind check does not know."""
    return Inventory(_classify_one(doc) for doc in documents)


def _classify_one(doc: SourceDocument) -> Resource:
    body = doc.body
    where = f"{doc.source}: document {doc.position}"
    api_version = body.get("apiVersion")
    kind = body.get("kind")
    if api_version is None:
        if kind is not None and kind not in ("Deployment", "DaemonSet"):
            raise ManifestError(f"{where}: kind {kind!r} without apiVersion — add the apiVersion")
        chart = FLYTE_BINARY_VALUES if _FLYTE_BINARY_KEYS & body.keys() else GATEWAY_VALUES
        return Resource(doc, HELM_VALUES, chart, None)
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise ManifestError(f"{where}: apiVersion and kind must be strings")
    group = api_version.rpartition("/")[0]
    if (group, kind) not in KNOWN_KINDS:
        known = ", ".join(sorted({k for _, k in KNOWN_KINDS}))
        raise ManifestError(
            f"{where}: {kind} ({api_version}) is not part of the IAP deployment\n"
            f"check reads only these kinds and istio/gateway Helm values: {known}"
        )
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    return Resource(
        doc,
        kind,
        name if isinstance(name, str) else "<unnamed>",
        namespace if isinstance(namespace, str) else None,
    )
