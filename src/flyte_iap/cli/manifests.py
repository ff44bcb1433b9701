"""``flyte-iap manifests``: render the IAP deployment objects and lint them.

Bad input (a :class:`ManifestError` from the renderer or the reader) becomes a
:class:`UsageError` (exit 2), which the main command line prints; ``check``
exits 1 itself when it has findings.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from flyte_iap.cli.app import Group
from flyte_iap.errors import UsageError
from flyte_iap.manifests import ManifestError, RenderOptions, render

manifests = Group(
    "manifests",
    help="Render and check the Kubernetes objects that put Flyte behind GCP IAP.",
)

_PORT = click.IntRange(1, 65535)


def _opt(name: str, **kwargs: object) -> click.Option:
    """A dashed option that also accepts the underscore spelling (--static_ip_name)."""
    spellings = [f"--{name}"]
    if "-" in name:
        spellings.append(f"--{name.replace('-', '_')}")
    return click.Option(spellings, show_default=True, **kwargs)  # type: ignore[arg-type]


@contextmanager
def _as_usage_errors() -> Iterator[None]:
    try:
        yield
    except ManifestError as exc:
        raise UsageError(str(exc)) from exc


@manifests.command(
    "render",
    params=[
        _opt("domain", required=True, help="Public host name of Flyte, e.g. flyte.example.com."),
        _opt("static-ip-name", required=True, help="Name of the global static IP in GCP."),
        _opt("iap-oauth-secret", default="iap-oauth-client-id", help="Secret with IAP client."),
        _opt("flyte-namespace", default="flyte", help="Namespace of flyteadmin/flyteconsole."),
        _opt("istio-namespace", default="istio-system", help="Namespace of the gateway."),
        _opt("gateway-release", default="istio-ingress", help="Helm release of istio/gateway."),
        _opt("admin-service", default="flyteadmin", help="flyteadmin Service name."),
        _opt("admin-http-port", default=80, type=_PORT, help="flyteadmin HTTP port."),
        _opt("admin-grpc-port", default=81, type=_PORT, help="flyteadmin gRPC port."),
        _opt("console-service", default="flyteconsole", help="flyteconsole Service name."),
        _opt("console-port", default=80, type=_PORT, help="flyteconsole port."),
        _opt(
            "output-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Write istio-gateway-values.yaml, manifests.yaml, kustomization.yaml here "
            "instead of one stream on stdout.",
        ),
    ],
)
def render_command(output_dir: Path | None, **options: object) -> None:
    """Render the istio/gateway Helm values and the objects of the IAP deployment guide."""
    from flyte_iap.manifests import yaml_io

    with _as_usage_errors():
        rendered = render(RenderOptions(**options).validated())  # type: ignore[arg-type]
        if output_dir is None:
            click.echo(yaml_io.stream(rendered), nl=False)
            return
        for path in yaml_io.write_output_dir(rendered, output_dir):
            click.echo(f"wrote {path}", err=True)


@manifests.command("check")
@click.argument("files", nargs=-1, required=True)
def check_command(files: tuple[str, ...]) -> None:
    """Check rendered or hand-written FILES together; '-' reads standard input.

    Prints one line per finding on stdout and exits 1 if there is any.
    """
    from flyte_iap.manifests import yaml_io
    from flyte_iap.manifests.checks import check_documents

    stdin = sys.stdin
    with _as_usage_errors():
        documents = [doc for path in files for doc in yaml_io.read(path, stdin)]
        if not documents:
            raise UsageError(f"no YAML documents in {', '.join(files)} — nothing to check")
        findings = check_documents(documents)
    for finding in findings:
        click.echo(str(finding))
    if findings:
        sys.exit(1)
    click.echo(f"ok: {len(documents)} documents in {len(files)} file(s), no findings", err=True)
