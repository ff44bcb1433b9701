"""``flyte-iap manifests``: render the IAP deployment objects and lint them.

Bad input is a :class:`~flyte_iap.errors.ManifestError` from the renderer or the
reader, a usage error (exit 2) that the main command line prints; ``check`` exits 1
when it has findings.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

from flyte_iap.cli.app import Group
from flyte_iap.cli.options import Option
from flyte_iap.cli.params import click_options
from flyte_iap.errors import UsageError
from flyte_iap.manifests import (
    RenderOptions,
    check_documents,
    read,
    render,
    stream,
    write_output_dir,
)

manifests = Group(
    "manifests",
    help="Render and check the Kubernetes objects that put Flyte behind GCP IAP.",
)


# This tool's own options: dashed first, the underscore spelling accepted too.
_option = partial(Option, dashed=True)


def _port(name: str, help: str, default: str) -> Option:
    return _option(name, help, kind=int, default=default, minimum=1, maximum=65535)


RENDER_OPTIONS = (
    _option("domain", "Public host name of Flyte, e.g. flyte.example.com.", required=True),
    _option("static_ip_name", "Name of the global static IP in GCP.", required=True),
    _option(
        "flyte",
        "Flyte generation: 1 (flyte-core) or 2 (the flyte-binary v2 chart).",
        kind=int,
        default="1",
        minimum=1,
        maximum=2,
    ),
    _option("iap_oauth_secret", "Secret with IAP client.", default="iap-oauth-client-id"),
    _option("flyte_namespace", "Namespace of Flyte's Services.", default="flyte"),
    _option("istio_namespace", "Namespace of the gateway.", default="istio-system"),
    _option("gateway_release", "Helm release of istio/gateway.", default="istio-ingress"),
    _option("release", "Helm release of flyte-binary (--flyte 2).", default="flyte-binary"),
    _option("admin_service", "flyteadmin Service name.", default="flyteadmin"),
    _port("admin_http_port", "flyteadmin HTTP port.", "80"),
    _port("admin_grpc_port", "flyteadmin gRPC port.", "81"),
    _option("console_service", "flyteconsole Service name.", default="flyteconsole"),
    _port("console_port", "flyteconsole port.", "80"),
    _option(
        "output_dir",
        "Write istio-gateway-values.yaml (and flyte-binary-values.yaml for --flyte 2), "
        "manifests.yaml, kustomization.yaml here instead of one stream on stdout.",
        metavar="DIRECTORY",
    ),
)


@manifests.command("render")
@click_options(RENDER_OPTIONS)
def render_command(output_dir: str | None, **options: object) -> None:
    """Render the Helm values and the objects that put Flyte behind IAP.

    Without --output-dir all of it is one YAML stream on stdout: the Helm values
    first (each under a comment naming its chart), then the objects.
    """
    rendered = render(RenderOptions(**options).validated())  # type: ignore[arg-type]
    if output_dir is None:
        click.echo(stream(rendered), nl=False)
        return
    for path in write_output_dir(rendered, Path(output_dir)):
        click.echo(f"wrote {path}", err=True)


@manifests.command("check")
@click.argument("files", nargs=-1, required=True)
def check_command(files: tuple[str, ...]) -> None:
    """Check rendered or hand-written FILES together; '-' reads standard input.

    Prints one line per finding on stdout and exits 1 if there is any.
    """
    documents = [doc for path in files for doc in read(path, sys.stdin)]
    if not documents:
        raise UsageError(f"no YAML documents in {', '.join(files)} — nothing to check")
    findings = check_documents(documents)
    for finding in findings:
        click.echo(str(finding))
    if findings:
        click.get_current_context().exit(1)
    click.echo(f"ok: {len(documents)} documents in {len(files)} file(s), no findings", err=True)
