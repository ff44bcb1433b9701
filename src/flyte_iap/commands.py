"""The click commands, and turning errors into one or two lines on stderr."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import click

from flyte_iap import __version__
from flyte_iap.click_options import console_for, http_client, with_options
from flyte_iap.errors import FlyteIapError
from flyte_iap.options import SERVICE_ACCOUNT_OPTIONS, VERBOSE
from flyte_iap.user_commands import generate_user_id_token, login, logout, status

# Subcommands whose modules are heavy (YAML, servers) load only when named.
LAZY_COMMANDS = {
    "manifests": ("flyte_iap.manifests.cli", "manifests"),
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            import importlib

            module, attr = LAZY_COMMANDS[name]
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, name)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="flyte-iap")
@click.option("-v", "--verbose", "verbose", is_flag=True, help=VERBOSE.help)
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Google-signed ID tokens for Flyte behind Identity-Aware Proxy.

    Use a token command as `proxyCommand` in ~/.flyte/config.yaml: the token
    goes to stdout, everything else to stderr.
    """
    ctx.obj = {"verbose": verbose}


@cli.command("generate-service-account-id-token")
@with_options(SERVICE_ACCOUNT_OPTIONS)
def generate_service_account_id_token(
    webapp_client_id: str,
    service_account_key: str | None,
    impersonate_service_account: str | None,
    refresh_margin: float,
    verbose: bool,
) -> None:
    """Print an ID token of a service account for IAP (cached until near expiry)."""
    from flyte_iap.cache import TokenCache, default_cache_dir
    from flyte_iap.service_account_token import ServiceAccountRequest, get_service_account_token

    console = console_for(verbose)
    request = ServiceAccountRequest(
        audience=webapp_client_id,
        key_path=service_account_key,
        impersonate=impersonate_service_account,
        refresh_margin=refresh_margin,
    )
    cache = TokenCache(default_cache_dir(os.environ), warn=console.warn)
    token = get_service_account_token(request, os.environ, cache, http_client(console), console)
    click.echo(token)


@cli.command("emulator")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--state-dir",
    "--state_dir",
    "state_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the sample key and ADC files (default: a new temporary directory).",
)
@click.option(
    "--auto-approve",
    "--auto_approve",
    "auto_approve",
    is_flag=True,
    help="Approve every consent request at once (for scripts).",
)
@click.option(
    "--exit-after",
    "--exit_after",
    "exit_after",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: at Ctrl-C).",
)
def emulator(
    port: int, state_dir: str | None, auto_approve: bool, exit_after: float | None
) -> None:
    """Serve a local stand-in for Google's token, certs, metadata, IAM and Secret Manager APIs.

    Prints `export ...` lines that point flyte-iap at it.
    """
    import tempfile

    from flyte_iap.emulator import run_emulator

    directory = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="flyte-iap-emu-"))
    directory.mkdir(parents=True, exist_ok=True)
    code = run_emulator(port, directory, auto_approve, exit_after, sys.stdout, sys.stderr)
    if code:
        raise SystemExit(code)


@cli.command("demo")
def demo() -> None:
    """Show the whole flow against a built-in emulator: no Google project needed."""
    from flyte_iap.demo import run_demo

    run_demo(sys.stdout)


for _command in (generate_user_id_token, login, logout, status):
    cli.add_command(_command)


def run(args: list[str]) -> int:
    """Run the click command line; every error becomes a short message and an exit code."""
    verbose = "-v" in args or "--verbose" in args
    try:
        result = cli.main(args=args, prog_name="flyte-iap", standalone_mode=False)
    except FlyteIapError as exc:
        if verbose:
            traceback.print_exc()
        print(f"flyte-iap: {exc}", file=sys.stderr)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        print(exc.format_message(), file=sys.stderr)
        return exc.exit_code
    except click.UsageError as exc:
        # Two lines, like every other failure, rather than click's usage banner.
        where = exc.ctx.command_path if exc.ctx else "flyte-iap"
        print(f"flyte-iap: {exc.format_message()}", file=sys.stderr)
        print(f"See '{where} --help'.", file=sys.stderr)
        return exc.exit_code
    except click.ClickException as exc:
        print(f"flyte-iap: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        print("flyte-iap: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        print(
            f"flyte-iap: unexpected error: {type(exc).__name__}: {exc}\n"
            "Run again with --verbose for details, and report it if it persists.",
            file=sys.stderr,
        )
        return 1
    return result if isinstance(result, int) else 0
