"""Render and lint the Kubernetes objects that put a Flyte deployment behind GCP IAP.

``render`` turns :class:`RenderOptions` into a :class:`RenderedSet` of plain
dicts (Flyte 1's flyte-core objects, or Flyte 2's with the flyte-binary chart's
values), which ``stream`` writes as one YAML stream and ``write_output_dir`` as files;
``read`` (a file, or ``-``) and ``load`` (a text) give the :class:`SourceDocument` list
that ``check_documents`` turns into :class:`Finding` lines. Modules: ``render``,
``names``, ``routes`` (the paths Flyte serves), ``yaml_io``; ``documents``,
``findings``, the rules (``checks``, ``routing_checks``, ``flyte2_checks``) and
``matching`` (Istio's route order, durations). Bad input raises
:class:`flyte_iap.errors.ManifestError`. The command line is ``flyte_iap.cli.manifests``.
Needs YAML; imports nothing of the tool but ``errors``.
"""

from flyte_iap.manifests.checks import check_documents
from flyte_iap.manifests.documents import SourceDocument
from flyte_iap.manifests.findings import Finding
from flyte_iap.manifests.render import RenderedSet, RenderOptions, render
from flyte_iap.manifests.yaml_io import load, read, stream, write_output_dir

__all__ = [
    "Finding",
    "RenderOptions",
    "RenderedSet",
    "SourceDocument",
    "check_documents",
    "load",
    "read",
    "render",
    "stream",
    "write_output_dir",
]
