"""YAML in and out for the manifests commands; the only module that imports PyYAML.

Reading turns every PyYAML and file-system failure into a
:class:`ManifestError` naming the file, so the CLI never shows a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import yaml

from flyte_iap.errors import ManifestError
from flyte_iap.manifests.documents import SourceDocument
from flyte_iap.manifests.render import RenderedSet

VALUES_FILE = "istio-gateway-values.yaml"
FLYTE_BINARY_VALUES_FILE = "flyte-binary-values.yaml"
MANIFESTS_FILE = "manifests.yaml"
KUSTOMIZATION_FILE = "kustomization.yaml"

_VALUES_HEADER = (
    "# Helm values for the istio/gateway chart, not a Kubernetes object:\n"
    "#   helm install <release> istio/gateway -n <namespace> -f istio-gateway-values.yaml\n"
)
_FLYTE_BINARY_HEADER = (
    "# Helm values for the flyte-binary v2 chart (Flyte 2), not a Kubernetes object; give\n"
    "# them after your own values, so that they win:\n"
    "#   helm install {release} <the flyte-binary v2 chart> -n {namespace} \\\n"
    "#       -f <your values> -f flyte-binary-values.yaml\n"
)
_MANIFESTS_HEADER = "# Rendered by `flyte-iap manifests render`; lint with `manifests check`.\n"
#: Deeper than any Kubernetes object or Helm values file; PyYAML composes nodes
#: recursively, so "[" * 100000 would otherwise end in a RecursionError.
MAX_DEPTH = 100


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing collections nested more than MAX_DEPTH deep."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"collections nested more than {MAX_DEPTH} levels deep",
                self.get_mark(),
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def dump(documents: Iterable[dict[str, Any]]) -> str:
    """Serialise documents as one multi-document YAML stream, keys in insertion order."""
    return yaml.safe_dump_all(list(documents), sort_keys=False, explicit_start=True)


def _values_texts(rendered: RenderedSet) -> dict[str, str]:
    texts = {VALUES_FILE: _VALUES_HEADER + dump([rendered.gateway_values])}
    if rendered.flyte_binary_values is not None:
        header = _FLYTE_BINARY_HEADER.format(
            release=rendered.release, namespace=rendered.flyte_namespace
        )
        texts[FLYTE_BINARY_VALUES_FILE] = header + dump([rendered.flyte_binary_values])
    return texts


def stream(rendered: RenderedSet) -> str:
    """The whole rendered set as one stream: the Helm values first (the gateway's, then
    flyte-binary's for Flyte 2), each under a comment naming its chart, then the objects."""
    return "".join(_values_texts(rendered).values()) + _MANIFESTS_HEADER + dump(rendered.objects)


def write_output_dir(rendered: RenderedSet, directory: Path) -> list[Path]:
    """Write the values file(s), ``manifests.yaml`` and a ``kustomization.yaml``; return the
    paths."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [MANIFESTS_FILE],
    }
    files = {
        **_values_texts(rendered),
        MANIFESTS_FILE: _MANIFESTS_HEADER + dump(rendered.objects),
        KUSTOMIZATION_FILE: dump([kustomization]),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (directory / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ManifestError(
            f"could not write the manifests to {str(directory)!r}: {exc.strerror or exc}"
        ) from exc
    return [directory / name for name in files]


def load(source: str, text: str) -> list[SourceDocument]:
    """Parse a multi-document YAML text; empty documents are skipped."""
    try:
        raw = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ManifestError(
            f"{source}: not valid YAML{where}: {problem} — fix the file or pass another one"
        ) from exc
    except RecursionError as exc:  # a backstop: MAX_DEPTH keeps PyYAML well inside the limit
        raise ManifestError(
            f"{source}: not valid YAML: nested too deeply — fix the file or pass another one"
        ) from exc
    documents = []
    for position, body in enumerate(raw, start=1):
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ManifestError(
                f"{source}: document {position} is a {type(body).__name__}, not a mapping — "
                "expected Kubernetes objects or Helm values"
            )
        documents.append(SourceDocument(source, position, body))
    return documents


def read(path: str, stdin: TextIO) -> list[SourceDocument]:
    """Read and parse one file; ``-`` means standard input."""
    if path == "-":
        return load("<stdin>", stdin.read())
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ManifestError(f"{path}: is a directory — pass the YAML files in it") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: could not read the file: {exc}") from exc
    return load(path, text)
