"""The option tables' click form (``options`` holds the tables and the other readers),
``--verbose`` worked out once, and the run's composition root from click's context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from flyte_iap.cli.options import VERBOSE, Option
from flyte_iap.cli.wiring import Wiring

F = TypeVar("F", bound=Callable[..., Any])


def click_options(options: tuple[Option, ...]) -> Callable[[F], F]:
    """Declare ``options`` on a click command (``--verbose`` sets the wiring's flag)."""

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = click_option(option)(function)
        return function

    return decorate


def click_option(option: Option) -> Callable[[F], F]:
    spellings = [*option.spellings, option.name]
    if option is VERBOSE:
        return click.option(
            "-v",
            *option.spellings,
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_verbose,
            help=option.help,
        )
    if option.flag:
        return click.option(*spellings, is_flag=True, help=option.help)
    extra: dict[str, Any] = {}
    if option.kind is float:
        extra["type"] = _Seconds(min=option.minimum, max=option.maximum)
    elif option.kind is int:
        extra["type"] = click.IntRange(
            None if option.minimum is None else int(option.minimum),
            None if option.maximum is None else int(option.maximum),
        )
    # No default=None: click 8.2+ would then stop enforcing required=True.
    if option.metavar is not None:
        extra["metavar"] = option.metavar
    if option.default is not None:
        extra["default"] = option.convert(option.default)
        extra["show_default"] = True
    return click.option(*spellings, required=option.required, help=option.help, **extra)


class _Seconds(click.FloatRange):
    """A float in range that is also finite: ``nan`` and ``inf`` are no number of seconds."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number - number != 0:
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        wiring(ctx).verbose = True


def wiring(ctx: click.Context | None = None) -> Wiring:
    """The composition root of this run (``ctx.obj`` of the root command)."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, Wiring):
        root.obj = Wiring()
    return root.obj
