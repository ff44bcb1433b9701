"""``flyte-iap configure``: write this tool as ``admin.proxyCommand`` of a Flyte config.

The token command's options are checked as that command checks them, so a mistake
shows now and not as an UNAUTHENTICATED inside ``pyflyte``; a secret is never
written. The file is edited by :mod:`flyte_iap.flyteconfig` (everything else kept
byte for byte) and replaced atomically; its :class:`ConfigError` becomes a usage
error, and the file is left as it was.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import sys

import click

from flyte_iap.cli.options import CLIENT_SECRET, VERBOSE, token_request, token_words
from flyte_iap.cli.params import click_option, wiring
from flyte_iap.errors import ConfigError, FlyteIapError, UsageError, shown
from flyte_iap.files import NotTrusted, read_small_file

#: A Flyte config is a few hundred bytes; anything far larger is not one.
CONFIG_LIMIT = 1024 * 1024
_LONG = 1000  # how much of a path or command line a message shows
_Values = dict[str, str | bool | list[str]]


@click.command("configure", context_settings={"allow_interspersed_args": False})
@click.option(
    "--config",
    metavar="PATH",
    help="The Flyte config to write (default: FLYTECTL_CONFIG, else ~/.flyte/config.yaml).",
)
@click.option(
    "--flyte",
    "generation",
    type=click.Choice(["1", "2"]),
    default="1",
    show_default=True,
    help="1: flytekit and flytectl (admin.proxyCommand); 2: the flyte SDK 2.x "
    "(admin.authType ExternalCommand and admin.command).",
)
@click.option(
    "--endpoint",
    metavar="dns:///HOST",
    help="Also set admin.endpoint, and admin.insecure: true for a loopback address "
    "(the emulator's gate, Flyte 1 only), else false.",
)
@click.option(
    "--ca-cert",
    metavar="PEM",
    help="Set admin.caCertFilePath: the CA certificates the endpoint's TLS certificate is "
    "verified with (a private CA; admin.insecure: false).",
)
@click_option(VERBOSE)
@click.argument("token_command", metavar="TOKEN_COMMAND")
@click.argument("token_args", nargs=-1, type=click.UNPROCESSED, metavar="[ITS OPTIONS]...")
def configure(
    config: str | None,
    generation: str,
    endpoint: str | None,
    ca_cert: str | None,
    token_command: str,
    token_args: tuple[str, ...],
) -> None:
    """Write `flyte-iap TOKEN_COMMAND [its options]` into the Flyte config, as the SDK of
    --flyte 1 or 2 runs it: admin.proxyCommand for flytekit and flytectl; admin.authType
    ExternalCommand and admin.command for the flyte SDK 2.x.

    TOKEN_COMMAND is generate-user-id-token or generate-service-account-id-token. Every
    other key and comment of an existing file is kept as it was; for Flyte 2 an
    admin.proxyCommand is removed (the flyte SDK 2.12 cannot start with one).
    """
    from flyte_iap.flyteconfig import config_path, write_target

    run = wiring()
    flyte2 = generation == "2"
    values: _Values = {}
    if endpoint is not None:  # the order of new keys in a new file
        loopback = _loopback(endpoint)
        values.update(endpoint=endpoint, insecure=loopback and not flyte2 and ca_cert is None)
        if flyte2 and loopback and ca_cert is None:
            run.console.warn(
                "warning: the flyte SDK sends the token over TLS only: a loopback endpoint "
                "(the emulator's gate) needs TLS (emulator --iap-tls) and --ca-cert"
            )
    if ca_cert is not None:
        values.update(insecure=False, caCertFilePath=_ca_file(ca_cert))
    words = token_words(token_command, token_args, run.env, run.console.warn, written=True)
    token_request(token_command, words.values)  # checked as the command will check them
    command = [*this_command(), token_command, *words.words]
    if flyte2:
        values.update(authType=EXTERNAL_COMMAND, command=command)
    else:
        values["proxyCommand"] = command
    path = config_path(config, run.env)
    try:
        _write(path, write_target(path), values, remove=FLYTE2_REMOVES if flyte2 else ())
    except ConfigError as exc:
        raise _refused(path, str(exc)) from None


#: The Flyte 2 SDK's way to run a command for its token (config ``admin.authType``).
EXTERNAL_COMMAND = "ExternalCommand"
#: What a Flyte 2 config may not hold: the flyte SDK 2.12 fails inside ``init`` with a
#: ``proxyCommand``, and sends its ``command``'s token as ``Authorization``, which IAP
#: takes when ``Proxy-Authorization`` holds none.
FLYTE2_REMOVES = ("proxyCommand",)


def _loopback(endpoint: str) -> bool:
    """Whether ``endpoint`` (``dns:///HOST[:PORT]``) is this machine, which speaks plain
    gRPC (the emulator's gate, a port-forward); a UsageError if it is no such endpoint."""
    from flyte_iap.flyteconfig import parse_endpoint

    try:
        parsed = parse_endpoint(endpoint, insecure=False)
    except ConfigError as exc:
        raise UsageError(f"--endpoint {shown(endpoint, 80)!r}: {exc}") from None
    if parsed.scheme not in ("", "dns:///"):
        raise UsageError(
            "--endpoint is a gRPC target, not a URL: write dns:///HOST or dns:///HOST:PORT"
        )
    return parsed.loopback


def _ca_file(given: str) -> str:
    """``--ca-cert`` as an absolute path (the SDKs run from any directory), once it is seen
    to be a readable file of PEM certificates."""
    path = os.path.abspath(os.path.expanduser(given))
    try:
        raw = read_small_file(path, limit=CONFIG_LIMIT)
    except (OSError, NotTrusted) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a file"
        raise UsageError(f"--ca-cert {shown(path, _LONG)}: cannot be read ({reason})") from None
    if b"-----BEGIN CERTIFICATE-----" not in raw:
        raise UsageError(f"--ca-cert {shown(path, _LONG)}: not a PEM file of certificates")
    return path


def _write(path: str, target: str, values: _Values, *, remove: tuple[str, ...] = ()) -> None:
    from flyte_iap.flyteconfig import MISSING, remove_admin_keys, set_admin_keys, write_atomic

    text, mode = _read(target)
    edited = set_admin_keys(text or "", values)
    removed = remove_admin_keys(edited.text, remove)
    changes = [*edited.changes, *removed.changes]
    say = wiring().console.say
    name = shown(path, _LONG) + (f" (a link to {shown(target, _LONG)})" if target != path else "")
    if not changes:
        say(f"flyte-iap: {name} already has these settings; left as it was")
        return
    try:
        write_atomic(target, removed.text.encode(), mode=0o600 if mode is None else mode)
    except OSError as exc:
        raise FlyteIapError(f"could not write {name}: {exc.strerror or exc}") from exc
    say(f"flyte-iap: {'created' if text is None else 'updated'} {name}:")
    for change in changes:
        was = "" if change.old is MISSING else f"{describe(change.old)} → "
        now = "(removed)" if change.new is MISSING else describe(change.new)
        say(f"  admin.{change.key}: {was}{now}")
    if values.get("insecure") is True:
        say("  (insecure: true: a loopback endpoint speaks plain gRPC, without TLS)")
    if removed.changes:
        say(
            "  (the flyte SDK 2.12 cannot start with a proxyCommand: keep a Flyte 1 config "
            "in another file, with --config)"
        )
    if not removed.admin.get("endpoint"):
        say("  admin.endpoint is not set: run again with --endpoint dns:///HOST")
    if not target.endswith((".yaml", ".yml")):
        say("warning: flytekit reads a config as YAML only when its name ends in .yaml or .yml")


def _read(path: str) -> tuple[str | None, int | None]:
    """The config's text and mode; (None, None) when there is no file yet."""
    try:
        raw = read_small_file(path, limit=CONFIG_LIMIT)
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None, None
    except IsADirectoryError:
        raise _refused(path, "it is a directory") from None
    except NotTrusted as exc:  # a FIFO, a device, a file over the limit
        raise _refused(path, exc.strerror or "it is not a regular file") from None
    except OSError as exc:
        raise _refused(path, f"it cannot be read ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8"), mode
    except UnicodeDecodeError:
        raise _refused(path, "it is not UTF-8 text") from None


def _refused(path: str, reason: str) -> UsageError:
    return UsageError(f"cannot configure {shown(path, _LONG)}: {reason}\nIt was left as it was.")


def this_command(executable: str | None = None) -> list[str]:
    """The absolute command that runs this very flyte-iap, for pyflyte to run anywhere:
    this interpreter, unresolved (a virtual environment's python is a link whose target
    would lose the environment), with :data:`flyte_iap.cli.LAUNCH`. It names the package,
    not a file, so it keeps working after ``pip install --upgrade``, in a venv or with
    pipx, and on a path with spaces (the config holds a list of words, no shell). Never a
    ``flyte-iap`` found on PATH: it may be another install, such as the plugin's."""
    from flyte_iap.cli import LAUNCH

    executable = sys.executable if executable is None else executable
    if not executable:
        raise FlyteIapError("cannot tell where this flyte-iap is installed (no sys.executable)")
    return [os.path.abspath(executable), *LAUNCH]


def describe(value: object) -> str:
    """A config value for a message: a command line with any secret masked, whether it is
    a word of its own, inside a word (``sh -c "… --desktop_client_secret S"``) or in a
    string value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return shown(_masked(value), _LONG)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        masked, hide = [], False
        for arg in value:
            spelling, eq, _ = arg.partition("=")
            secret = spelling in CLIENT_SECRET.spellings
            masked.append("..." if hide else f"{spelling}=..." if secret and eq else arg)
            hide = secret and not eq
        return shown(_masked(shlex.join(masked)), _LONG)
    return f"({type(value).__name__})"


# An option named for a secret, with its value after `=` or a space; a variable named for
# one, assigned (`FLYTE_IAP_DESKTOP_CLIENT_SECRET=…` before a command in `sh -c`).
_SECRET_OPTION = re.compile(r"(--?[\w-]*(?:secret|password|passwd))(=|\s+)(?!\.\.\.)\S+", re.I)
_SECRET_VARIABLE = re.compile(r"\b(\w*(?:secret|password|passwd|token))=(?!\.\.\.)\S+", re.I)


def _masked(text: str) -> str:
    text = _SECRET_OPTION.sub(r"\1\2...", text)
    return _SECRET_VARIABLE.sub(r"\1=...", text)
