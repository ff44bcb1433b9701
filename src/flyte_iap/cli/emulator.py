"""``emulator`` and ``demo``: the local stand-in for Google, and the tour that uses it."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

from flyte_iap.cli.options import Option
from flyte_iap.cli.params import click_options
from flyte_iap.errors import FlyteIapError, UsageError

_option = partial(Option, dashed=True)
EMULATOR_OPTIONS = (
    _option(
        "port", "Port on 127.0.0.1 (0: any free port).", kind=int, default="0", minimum=0,
        maximum=65535,
    ),
    _option(
        "state_dir",
        "Where to write the sample key and ADC files (default: a new temporary directory).",
        metavar="DIRECTORY",
    ),
    _option("auto_approve", "Approve every consent request at once (for scripts).", kind=bool),
    _option(
        "iap_upstream",
        "Also serve an IAP gate on another port: it checks each request's proxy-authorization "
        "(else authorization) token as IAP does and passes the good ones on to this http:// "
        "URL, with IAP's signed x-goog-iap-jwt-assertion.",
        metavar="URL",
    ),
    _option(
        "iap_gate_port", "Port of the IAP gate on 127.0.0.1 (0: any free port).", kind=int,
        default="0", minimum=0, maximum=65535,
    ),
    _option(
        "iap_tls",
        "Serve the IAP gate over HTTPS, with a certificate for localhost from a CA of the "
        "emulator's own; the CA certificate is written to the state directory "
        "(FLYTE_IAP_GATE_CA_FILE, for admin.caCertFilePath).",
        kind=bool,
    ),
    _option(
        "exit_after", "Stop after this many seconds (default: at Ctrl-C).", kind=float,
        minimum=0, metavar="SECONDS",
    ),
)  # fmt: skip


@click.command("emulator")
@click_options(EMULATOR_OPTIONS)
def emulator(
    port: int,
    state_dir: str | None,
    auto_approve: bool,
    iap_upstream: str | None,
    iap_gate_port: int,
    iap_tls: bool,
    exit_after: float | None,
) -> None:
    """Serve a local stand-in for Google's token, certs, metadata, IAM and Secret Manager APIs.

    Prints `export ...` lines that point flyte-iap at it. The state directory is created
    0700; one owned by another user, or writable by group or others, is refused. With
    --iap-upstream URL, an IAP gate in front of URL too (FLYTE_IAP_GATE_URL), over HTTPS
    with --iap-tls (FLYTE_IAP_GATE_CA_FILE).
    """
    import tempfile

    from flyte_iap.emulator import GateConfigError, ListenError, StateDirError, run_emulator

    if iap_tls and iap_upstream is None:
        raise UsageError("--iap-tls serves the IAP gate over HTTPS: give --iap-upstream URL too")
    if iap_upstream is not None:
        from flyte_iap.emulator.gate import Upstream

        try:
            Upstream.parse(iap_upstream)
        except GateConfigError as exc:
            raise UsageError(f"--iap-upstream: {exc}") from exc
    directory = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="flyte-iap-emu-"))
    try:
        code = run_emulator(
            port,
            directory,
            auto_approve,
            exit_after,
            sys.stdout,
            sys.stderr,
            iap_upstream=iap_upstream,
            gate_port=iap_gate_port,
            gate_tls=iap_tls,
        )
    except StateDirError as exc:
        where = "--state-dir" if state_dir else "the state directory"
        raise UsageError(f"{where} {exc}") from exc
    except ListenError as exc:
        raise FlyteIapError(f"{exc.option}: {exc}") from exc
    if code:
        raise SystemExit(code)


@click.command("demo")
def demo() -> None:
    """Show the whole flow against a built-in emulator: no Google project needed."""
    from flyte_iap.emulator import run_demo

    run_demo(sys.stdout)
