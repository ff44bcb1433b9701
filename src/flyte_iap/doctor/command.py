"""Check 2: the proxy command runs, exits 0 in time, and prints one JWT and nothing else.

It runs as flytekit runs it: no shell, stdin closed, stdout and stderr captured (each
kept up to ``OUTPUT_LIMIT``), in a process group of its own, so that when it is still
running after ``timeout`` seconds it is killed with everything it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from flyte_iap.doctor.check import Check, fail, ok, redacted
from flyte_iap.doctor.config import display
from flyte_iap.errors import ProtocolError
from flyte_iap.google import decode_parts

#: The check's name, by the Flyte generation of the config: whose key holds the command.
NAMES = {1: "proxy command", 2: "command"}
NAME = NAMES[1]
#: Seconds the command may take (FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT): a token from the
#: cache takes well under one, a new one a few; a login waiting in a browser never ends.
DEFAULT_TIMEOUT = 60.0
#: A token is about a kilobyte; more output than this is not one.
OUTPUT_LIMIT = 64 * 1024
_DRAIN_WAIT = 2.0


@dataclass(frozen=True)
class Finished:
    """How the command ended: ``returncode`` None when it was killed at the deadline."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    seconds: float


def run_bounded(argv: list[str], env: Mapping[str, str], timeout: float) -> Finished:
    """Run ``argv`` for at most ``timeout`` seconds; an OSError when it cannot start."""
    extra: dict[str, object] = {}
    if sys.platform == "win32":
        extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        extra["process_group"] = 0
    started = time.monotonic()
    proc = subprocess.Popen(  # a list, no shell: as flytekit runs it
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        **extra,  # type: ignore[call-overload]
    )
    outputs = [bytearray(), bytearray()]
    readers = [
        threading.Thread(target=_drain, args=(pipe, kept), daemon=True)
        for pipe, kept in zip((proc.stdout, proc.stderr), outputs, strict=True)
    ]
    for reader in readers:
        reader.start()
    try:
        returncode: int | None = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        returncode = None
        _kill_group(proc)
        proc.wait()
    seconds = time.monotonic() - started
    for reader in readers:
        reader.join(_DRAIN_WAIT)
    return Finished(returncode, bytes(outputs[0]), bytes(outputs[1]), seconds)


def _drain(pipe: object, kept: bytearray) -> None:
    """Read ``pipe`` to its end, keeping the first OUTPUT_LIMIT + 1 bytes (so the
    command never blocks on a full pipe, and memory stays bounded)."""
    fd = pipe.fileno()  # type: ignore[attr-defined]
    try:
        while chunk := os.read(fd, 16 * 1024):
            if len(kept) <= OUTPUT_LIMIT:
                kept += chunk[: OUTPUT_LIMIT + 1 - len(kept)]
    except OSError:
        pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        if sys.platform == "win32":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def command_check(
    argv: list[str], env: Mapping[str, str], timeout: float, check: str = NAME
) -> tuple[Check, str]:
    """Check 2 (named ``check``), and the token it printed ("" unless the check passed)."""
    name = display(argv)
    try:
        done = run_bounded(argv, env, timeout)
    except FileNotFoundError:
        fix = "install it, or give its absolute path (flyte-iap configure writes one)"
        return fail(check, f"{name}: no such program", fix), ""
    except OSError as exc:
        return fail(check, f"{name} could not start: {redacted(str(exc.strerror))}", "fix it"), ""
    if done.returncode is None:
        detail = f"{name} did not finish within {timeout:g} s; stopped it"
        fix = (
            "a person's token may be waiting for a login in the browser: run the command "
            "once in a terminal (flyte-iap login …); FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT sets "
            "this limit"
        )
        return fail(check, detail, fix), ""
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        said = f": {redacted(lines[-1], 200)}" if lines else " and said nothing on stderr"
        fix = "run it in a terminal to see all it says, and fix what it names"
        return fail(check, f"{name} exited with {done.returncode}{said}", fix), ""
    return _printed(name, done, check)


def _printed(name: str, done: Finished, check: str) -> tuple[Check, str]:
    only = "a proxyCommand must print the token and nothing else on stdout"
    if len(done.stdout) > OUTPUT_LIMIT:
        return fail(check, f"{name} printed over {OUTPUT_LIMIT // 1024} KiB", only), ""
    try:
        lines = done.stdout.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return fail(check, f"{name} printed something that is not text", only), ""
    if not lines or not "".join(lines).strip():
        return fail(check, f"{name} exited 0 but printed nothing on stdout", only), ""
    if len(lines) != 1:
        detail = f"{name} printed {len(lines)} lines on stdout, not one"
        fix = only + " (a wrapper script, a shell profile or a print() writes there too)"
        return fail(check, detail, fix), ""
    token = lines[0].strip()
    try:
        decode_parts(token, "its output")
    except ProtocolError as exc:
        return fail(check, f"{name}: {exc}", only), ""
    return ok(check, f"{name} exited 0 in {done.seconds:.1f} s and printed one JWT"), token


def option_value(argv: list[str], option: str) -> str | None:
    """The value of ``--option`` (either spelling, ``--opt V`` or ``--opt=V``) in ``argv``."""
    spellings = {f"--{option}", f"--{option.replace('_', '-')}"}
    for index, word in enumerate(argv):
        name, eq, value = word.partition("=")
        if name in spellings:
            if eq:
                return value
            return argv[index + 1] if index + 1 < len(argv) else None
    return None
