"""Render and lint the Kubernetes objects that put a Flyte deployment behind GCP IAP.

``render`` turns :class:`RenderOptions` into a :class:`RenderedSet` of plain
dicts; ``check_documents`` returns the :class:`Finding` list for documents
read together. YAML reading and writing live in ``yaml_io``; bad input raises
:class:`ManifestError`. The command line is ``flyte_iap.cli.manifests``.
"""

from flyte_iap.manifests.checks import check_documents
from flyte_iap.manifests.documents import SourceDocument
from flyte_iap.manifests.errors import ManifestError
from flyte_iap.manifests.findings import Finding
from flyte_iap.manifests.render import RenderedSet, RenderOptions, render

__all__ = [
    "Finding",
    "ManifestError",
    "RenderOptions",
    "RenderedSet",
    "SourceDocument",
    "check_documents",
    "render",
]
