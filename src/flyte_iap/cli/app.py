"""The click command line, and turning every error into one or two lines on stderr."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping

import click

from flyte_iap import __version__
from flyte_iap.cli.options import VERBOSE
from flyte_iap.cli.params import click_option
from flyte_iap.cli.report import reported
from flyte_iap.cli.wiring import Wiring
from flyte_iap.errors import FlyteIapError

# Command groups, each a module of flyte_iap.cli, imported only when named (or listed):
# the token commands need neither YAML nor the emulator's servers.
COMMANDS = {
    "generate-service-account-id-token": ("service_account", "generate_service_account_id_token"),
    "generate-user-id-token": ("user", "generate_user_id_token"),
    "login": ("user", "login"),
    "logout": ("user", "logout"),
    "status": ("status", "status"),
    "emulator": ("emulator", "emulator"),
    "demo": ("emulator", "demo"),
    "manifests": ("manifests", "manifests"),
    "configure": ("configure", "configure"),
    "decode": ("decode", "decode"),
    "doctor": ("doctor", "doctor"),
    "proxy": ("proxy", "proxy"),
}


class Group(click.Group):
    """A group whose commands load on demand and whose listing shows each summary whole."""

    lazy: Mapping[str, tuple[str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            import importlib

            module, attr = self.lazy[name]
            command = getattr(importlib.import_module(f"flyte_iap.cli.{module}"), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def summary(command: click.Command) -> str:
    """The first paragraph of a command's help, whole (click would cut it at 45 columns
    or at its first full stop)."""
    text = command.short_help or command.help or ""
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


class _Root(Group):
    lazy = COMMANDS


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="flyte-iap")
@click_option(VERBOSE)
def cli() -> None:
    """Google-signed ID tokens for Flyte behind Identity-Aware Proxy.

    Use a token command as `proxyCommand` in ~/.flyte/config.yaml: the token
    goes to stdout, everything else to stderr.
    """


def run(args: list[str], wiring: Wiring | None = None) -> int:
    """Run the click command line; every error becomes a short message and an exit code.

    ``wiring`` is the composition root (default: this process's environment and clock).
    """
    wiring = wiring or Wiring()
    try:
        result = cli.main(args=args, prog_name="flyte-iap", standalone_mode=False, obj=wiring)
    except FlyteIapError as exc:
        return reported(exc, verbose=wiring.verbose)
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
        return reported(KeyboardInterrupt(), verbose=False)
    except Exception as exc:
        return reported(exc, verbose=wiring.verbose)
    return result if isinstance(result, int) else 0
