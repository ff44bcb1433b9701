"""A token command's options checked as that command checks them, to write them unrun."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from flyte_iap.cli.options import (
    CLIENT_SECRET,
    FLAG,
    INTEGER,
    PROJECT,
    SECRET_NAME,
    TOKEN_COMMANDS,
    USER_TOKEN_COMMAND,
    Option,
)
from flyte_iap.cli.params import wiring
from flyte_iap.errors import UsageError, shown

SECRET_ENV = "FLYTE_IAP_DESKTOP_CLIENT_SECRET"
_LONG = 1000  # how much of a path a message shows


def token_arguments(command: str, args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """``args`` checked as ``command`` checks them, each option in its canonical spelling."""
    options = TOKEN_COMMANDS.get(command)
    if options is None:
        raise UsageError(f"TOKEN_COMMAND is {shown(command)!r}: use {' or '.join(TOKEN_COMMANDS)}")
    by_spelling = {s: o for o in options for s in o.spellings}
    given: dict[str, str] = {}
    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        name, eq, inline = arg.partition("=")
        option = by_spelling.get("--verbose" if arg == "-v" else name)
        if name in ("-h", "--help"):
            raise UsageError(f"see 'flyte-iap {command} --help': configure writes it, not runs it")
        if option is None:
            what = (
                f"no option {shown(name)}" if arg.startswith("-") else "no arguments, only options"
            )
            raise UsageError(f"{command} takes {what}" + (f" (after {out[-1]})" if out else ""))
        if option is CLIENT_SECRET:  # named without its value, which is never shown
            raise UsageError(
                f"{name} would be written into the Flyte config in clear text: set {SECRET_ENV} "
                f"where pyflyte runs, or use Secret Manager: {SECRET_NAME.spellings[0]} and "
                f"{PROJECT.spellings[0]}"
            )
        flag = option.spellings[0]
        if option.name in given:
            raise UsageError(f"{flag} is given twice")
        value = "" if option.kind == FLAG else inline if eq else next(rest, None)
        if option.kind == FLAG and eq:
            raise UsageError(f"{flag} takes no value")
        if value is None or (not eq and value.startswith("-")):
            raise UsageError(f"{flag} needs a value")
        if not value.isprintable() or value != value.strip():
            raise UsageError(f"{flag}: its value has control characters or spaces around it")
        if option.kind != FLAG and option.convert(value) is None:
            raise UsageError(f"{flag} {shown(value)!r}: not {_expected(option)}")
        if option.name == "service_account_key":  # pyflyte runs it from any directory
            value = os.path.abspath(value)
            if not os.path.isfile(value):
                wiring().console.warn(f"warning: {shown(value, _LONG)} is not a file (yet)")
        given[option.name] = value
        written = [flag] if option.kind == FLAG else [flag, value]
        out += [f"{flag}={value}"] if value.startswith("-") else written
    for option in options:
        if option.required and option.name not in given:
            raise UsageError(f"{command} needs {option.spellings[0]}")
    if command == USER_TOKEN_COMMAND:
        _check_user_options(given, env)
    return out


def _check_user_options(given: Mapping[str, str], env: Mapping[str, str]) -> None:
    if given.get("cache", "file") not in ("file", "keyring"):
        raise UsageError(f"--cache is {shown(given['cache'])!r}: use 'file' or 'keyring'")
    if given.get(SECRET_NAME.name) and given.get(PROJECT.name):
        return
    if not env.get(SECRET_ENV):
        raise UsageError(
            f"{USER_TOKEN_COMMAND} needs {SECRET_NAME.spellings[0]} and {PROJECT.spellings[0]} "
            f"(the desktop client's secret in Secret Manager), or {SECRET_ENV} set where "
            "pyflyte runs"
        )
    wiring().console.warn(f"note: the desktop client's secret will come from {SECRET_ENV}")


def _expected(option: Option) -> str:
    what = "a whole number" if option.kind == INTEGER else "a number"
    low, high = option.minimum, option.maximum
    if low is not None and high is not None:
        return f"{what} from {low:g} to {high:g}"
    return f"{what} of at least {low:g}" if low is not None else what
