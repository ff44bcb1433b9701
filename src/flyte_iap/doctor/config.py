"""Check 1: the Flyte config names an endpoint and the command that prints the token.

Which Flyte the config is for decides which command: ``admin.proxyCommand`` (Flyte 1:
flytekit and flytectl send its token as ``proxy-authorization``), else
``admin.authType: ExternalCommand`` with ``admin.command`` (Flyte 2: the flyte SDK sends
its token as ``authorization``, which IAP takes when ``proxy-authorization`` holds none).
``admin.endpoint`` is read by :func:`flyte_iap.flyteconfig.parse_endpoint` (as
``configure`` reads it); ``admin.insecure`` (plain HTTP) and ``admin.caCertFilePath`` (a
private CA) are honoured. The file is read bounded (``flyte_iap.files``) and parsed by
:func:`flyte_iap.flyteconfig.read_admin`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from flyte_iap.doctor.check import Check, fail, na, ok
from flyte_iap.errors import ConfigError, shown
from flyte_iap.files import read_small_file
from flyte_iap.flyteconfig import Endpoint, parse_endpoint, read_admin

NAME = "config"
CONFIGURE = "flyte-iap configure --endpoint dns:///HOST generate-user-id-token …"
EXTERNAL_COMMAND = "ExternalCommand"


@dataclass(frozen=True)
class Target:
    """What the later checks need: the endpoint, the token command, a private CA, and the
    Flyte generation (1 or 2) the config is for."""

    endpoint: Endpoint
    command: list[str]
    ca_cert: str | None = None
    generation: int = 1


def read_config(
    path: str | None,
    *,
    endpoint: str | None,
    command: list[str] | None,
    insecure: bool,
    generation: int | None = None,
) -> tuple[Check, Target | None]:
    """Check 1 and, when it passes, the Target. ``endpoint``, ``command`` and
    ``generation`` (from the command line) win over the file; with endpoint and command
    given and no ``path``, no file is read (and the generation is 1 unless given)."""
    if path is None:
        if endpoint is None or command is None:
            raise ValueError("a config path is needed unless endpoint and command are given")
        return _target({}, endpoint, command, insecure, "", generation or 1)
    try:
        text = read_small_file(path).decode("utf-8")
    except FileNotFoundError:
        return fail(NAME, f"{shown(path)} does not exist", f"write one: {CONFIGURE}"), None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        return fail(NAME, f"cannot read {shown(path)}: {shown(why)}", "point --config at it"), None
    try:
        admin = read_admin(text)
    except ConfigError as exc:
        return fail(NAME, f"{shown(path)}: {shown(exc)}", f"fix the file, or {CONFIGURE}"), None
    return _target(admin, endpoint, command, insecure, shown(path), generation)


def _target(
    admin: dict[str, Any],
    endpoint: str | None,
    command: list[str] | None,
    insecure: bool,
    path: str,
    generation: int | None,
) -> tuple[Check, Target | None]:
    """Check 1 on the ``admin`` section of ``path`` ("": none read), overrides applied."""
    name, where = NAME, path or "the command line"
    raw_endpoint = endpoint if endpoint is not None else admin.get("endpoint")
    if generation is None:
        external = admin.get("authType") == EXTERNAL_COMMAND and "command" in admin
        generation = 2 if "proxyCommand" not in admin and external else 1
    key = "proxyCommand" if generation == 1 else "command"
    raw_command = command if command is not None else admin.get(key)
    flag = admin.get("insecure", False) if not insecure else True
    if raw_endpoint is None:
        fix = f"add admin.endpoint: dns:///HOST (or {CONFIGURE})"
        return fail(name, f"{where}: no admin.endpoint", fix), None
    if raw_command is None:
        detail = (
            f"{where}: no admin.proxyCommand (Flyte 1), nor admin.authType: "
            f"{EXTERNAL_COMMAND} with admin.command (Flyte 2)"
        )
        fix = f"add one: {CONFIGURE} (with --flyte 2 for the flyte SDK 2.x)"
        return fail(name, detail, fix), None
    if not isinstance(raw_command, list) or not raw_command:
        kind = "a string" if isinstance(raw_command, str) else "not a list"
        fix = f"write it as a YAML list, one word per item: {CONFIGURE}"
        return fail(name, f"{where}: admin.{key} is {kind}", fix), None
    if not all(isinstance(word, str) and word for word in raw_command):
        fix = f"quote each word of the command: {CONFIGURE}"
        return fail(name, f"{where}: admin.{key} has an item that is no word", fix), None
    if not isinstance(flag, bool):
        return fail(name, f"{where}: admin.insecure is not true or false", "set it to false"), None
    if generation == 2 and flag:
        detail = f"{where}: admin.insecure is true: the flyte SDK then sends no token at all"
        fix = "set admin.insecure: false (and admin.caCertFilePath for a private CA)"
        return fail(name, detail, fix), None
    try:
        parsed = parse_endpoint(raw_endpoint, insecure=flag)
    except ConfigError as exc:
        detail = f"{where}: admin.endpoint {shown(raw_endpoint, 80)!r}: {exc}"
        return fail(name, detail, "set admin.endpoint: dns:///HOST[:PORT]"), None
    ca = admin.get("caCertFilePath")
    if ca is not None and (not isinstance(ca, str) or not ca):
        return fail(name, f"{where}: admin.caCertFilePath is not a path", "fix or remove it"), None
    target = Target(parsed, list(raw_command), os.path.expanduser(ca) if ca else None, generation)
    detail = (
        f"{where}: Flyte {generation}, endpoint {shown(parsed.text, 80)}, "
        f"{key} {display(target.command)}"
    )
    if not path:
        return na(name, f"no file read: {detail}"), target
    return ok(name, detail), target


def display(command: list[str]) -> str:
    """The program and its subcommand, for a message: never the options (a secret may be
    among them, as ``--desktop_client_secret``)."""
    words = list(command)
    if len(words) >= 3 and words[1:3] == ["-m", "flyte_iap"]:
        words = ["flyte-iap", *words[3:]]
    elif len(words) >= 4 and words[1:3] == ["-P", "-c"] and "flyte_iap" in words[3]:
        words = ["flyte-iap", *words[4:]]  # what configure writes (flyte_iap.cli.LAUNCH)
    shown_words = [os.path.basename(words[0])]
    if len(words) > 1 and not words[1].startswith("-"):
        shown_words.append(words[1])
    suffix = " …" if len(words) > len(shown_words) else ""
    return shown(" ".join(shown_words), 100) + suffix
