"""Glue shared by the click commands: options from the tables, console, HTTP client."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from flyte_iap.console import Console
from flyte_iap.http import DEFAULT_TIMEOUT, HttpClient
from flyte_iap.options import VERBOSE, Option

F = TypeVar("F", bound=Callable[..., Any])
FLOAT_OPTIONS = {"refresh_margin": 0.0, "timeout": 1.0}


def with_options(options: tuple[Option, ...]) -> Callable[[F], F]:
    """Declare ``options`` (from options.py) on a click command."""

    def decorate(function: F) -> F:
        for option in reversed(options):
            spellings = [*option.spellings, option.name]
            if option is VERBOSE:
                function = click.option("-v", *spellings, is_flag=True, help=option.help)(function)
            elif option.name in FLOAT_OPTIONS:
                function = click.option(
                    *spellings,
                    type=click.FloatRange(min=FLOAT_OPTIONS[option.name]),
                    default=float(option.default or 0),
                    show_default=True,
                    metavar=option.metavar,
                    help=option.help,
                )(function)
            elif option.flag:
                function = click.option(*spellings, is_flag=True, help=option.help)(function)
            elif option.name == "port":
                function = click.option(
                    *spellings,
                    type=click.IntRange(1, 65535),
                    metavar=option.metavar,
                    help=option.help,
                )(function)
            else:
                # No default=None: click 8.2+ would then stop enforcing required=True.
                extra: dict[str, Any] = {}
                if option.default is not None:
                    extra["default"] = option.default
                function = click.option(
                    *spellings,
                    required=option.required,
                    metavar=option.metavar,
                    help=option.help,
                    **extra,
                )(function)
        return function

    return decorate


def console_for(verbose: bool) -> Console:
    """The console of this command; ``--verbose`` counts before or after the command name."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    parent_verbose = bool(root and isinstance(root.obj, dict) and root.obj.get("verbose"))
    return Console(verbose=verbose or parent_verbose)


def http_client(console: Console) -> HttpClient:
    """The HTTP client, with ``FLYTE_IAP_HTTP_TIMEOUT`` (seconds, default 10)."""
    return HttpClient(timeout=_http_timeout(), debug=console.debug)


def _http_timeout() -> float:
    from flyte_iap.errors import UsageError

    raw = os.environ.get("FLYTE_IAP_HTTP_TIMEOUT", str(DEFAULT_TIMEOUT))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise UsageError(f"FLYTE_IAP_HTTP_TIMEOUT is {raw!r}: give a number of seconds above 0")
    return value
