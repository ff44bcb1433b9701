"""A finding of ``manifests check`` and helpers shared by the rule modules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flyte_iap.manifests.documents import Resource


@dataclass(frozen=True)
class Finding:
    """One mistake: where, what is wrong, and how to fix it."""

    source: str
    subject: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.source}: {self.subject}: {self.problem} — {self.fix}"


def finding(resource: Resource, problem: str, fix: str) -> Finding:
    """A finding about ``resource``, located at the file it came from."""
    return Finding(resource.doc.source, resource.subject, problem, fix)


def missing(resource: Resource, kind: str, what: str) -> Finding:
    """The finding for a reference whose target kind is absent from the files checked."""
    return finding(
        resource,
        f"no {kind} among the files, so {what} cannot be checked",
        f"pass the file holding the {kind} in the same `check` call",
    )


def same_namespace(a: Resource, b: Resource) -> bool:
    """Whether two objects may live in one namespace (unset matches anything)."""
    # An object without metadata.namespace lands in whatever `kubectl -n` says.
    return a.namespace is None or b.namespace is None or a.namespace == b.namespace


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else an empty one (hand-written files may be odd)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def json_annotation(value: Any) -> dict[str, Any]:
    """An annotation holding a JSON object, parsed; anything else gives an empty dict."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
