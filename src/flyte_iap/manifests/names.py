"""Validation of the names a person types into ``manifests render``.

Each function returns the value unchanged or raises :class:`ManifestError` with
the option, the value and what a valid one looks like.
"""

from __future__ import annotations

import re

from flyte_iap.errors import ManifestError

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_GCP_RESOURCE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")


def check_domain(value: str) -> str:
    """Accept a lowercase RFC 1123 host name with at least one dot, e.g. ``flyte.example.com``.

    Wildcards, schemes, ports, paths, IP addresses and a trailing dot are
    rejected: GKE managed certificates and Istio hosts need a plain name.
    """
    hint = "give the bare host name, e.g. --domain flyte.example.com"
    if not value:
        raise ManifestError(f"--domain is empty; {hint}")
    if value != value.lower():
        raise ManifestError(f"--domain {value!r} has uppercase letters; use {value.lower()!r}")
    if "*" in value:
        raise ManifestError(
            f"--domain {value!r} is a wildcard; GKE managed certificates need one exact name"
        )
    if "://" in value or "/" in value or ":" in value:
        raise ManifestError(f"--domain {value!r} is not a host name (scheme, path or port); {hint}")
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
        raise ManifestError(
            f"--domain {value!r} is not a valid DNS name (RFC 1123, at least one dot, "
            f"labels of a-z, 0-9 and '-'); {hint}"
        )
    if labels[-1].isdigit():
        raise ManifestError(f"--domain {value!r} looks like an IP address; {hint}")
    return value


def check_gcp_resource_name(option: str, value: str) -> str:
    """Accept a GCP resource name such as a global static IP address name."""
    if not _GCP_RESOURCE.fullmatch(value):
        raise ManifestError(
            f"{option} {value!r} is not a valid GCP resource name: 1-63 characters, "
            "lowercase letters, digits and '-', starting with a letter "
            "(see `gcloud compute addresses list --global`)"
        )
    return value


def check_namespace(option: str, value: str) -> str:
    """Accept a Kubernetes namespace name (an RFC 1123 label)."""
    if not _LABEL.fullmatch(value):
        raise ManifestError(
            f"{option} {value!r} is not a valid Kubernetes namespace: 1-63 characters, "
            "lowercase letters, digits and '-', starting and ending with a letter or digit"
        )
    return value


def check_service_name(option: str, value: str) -> str:
    """Accept a Kubernetes Service name (an RFC 1035 label)."""
    if not _DNS1035_LABEL.fullmatch(value):
        raise ManifestError(
            f"{option} {value!r} is not a valid Kubernetes Service name: 1-63 characters, "
            "lowercase letters, digits and '-', starting with a letter"
        )
    return value


def check_secret_name(option: str, value: str) -> str:
    """Accept a Kubernetes Secret name (an RFC 1123 subdomain)."""
    labels = value.split(".")
    if len(value) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
        raise ManifestError(
            f"{option} {value!r} is not a valid Kubernetes Secret name: lowercase letters, "
            "digits, '-' and '.', starting and ending with a letter or digit"
        )
    return value


# Helm refuses release names longer than this.
_HELM_RELEASE_MAX = 53
_CHART = "flyte-binary"


def flyte_binary_fullname(release: str) -> str:
    """The flyte-binary chart's ``fullname`` for a release (no name overrides).

    Its templates/_helpers.tpl: the release name when it contains the chart's name,
    else ``<release>-flyte-binary``; cut to 63 characters, then one trailing ``-``
    dropped (Helm's ``trunc 63 | trimSuffix "-"``).
    """
    full = release if _CHART in release else f"{release}-{_CHART}"
    return full[:63].removesuffix("-")


def check_release(value: str) -> str:
    """Accept a Helm release name of the flyte-binary chart whose Services are valid.

    The chart names its API Service ``<fullname>-http`` without cutting it to 63
    characters, and a Service name must be an RFC 1035 label, so the release must
    start with a letter and be short enough for that name to fit.
    """
    if not _DNS1035_LABEL.fullmatch(value) or len(value) > _HELM_RELEASE_MAX:
        raise ManifestError(
            f"--release {value!r} is not a Helm release name this chart can use: 1-53 "
            "characters, lowercase letters, digits and '-', starting with a letter"
        )
    service = flyte_binary_fullname(value) + "-http"
    if len(service) > 63:
        raise ManifestError(
            f"--release {value!r} makes the chart name its Service {service!r} "
            f"({len(service)} characters, Kubernetes allows 63) — use a shorter release name, "
            f"or one containing {_CHART!r}"
        )
    return value
