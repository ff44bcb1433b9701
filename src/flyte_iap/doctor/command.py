"""Check 2: the token command runs, exits 0 in time, and prints one JWT and nothing else.

It runs as flytekit runs it: no shell, stdin closed, stdout and stderr captured (each
kept up to ``OUTPUT_LIMIT``), in a process group of its own, so that when it is still
running after ``timeout`` seconds it is killed with everything it started. On Linux it
runs under a small supervisor that is a child subreaper (``prctl``
``PR_SET_CHILD_SUBREAPER``): a process it started in a session of its own (``setsid``, a
daemon's double fork) leaves the group but stays the supervisor's descendant, and the
supervisor kills every one of them when told. Elsewhere the group is killed.
"""

from __future__ import annotations

import os
import shutil
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
#: How long the supervisor is given to kill what the command started, before its group is
#: killed outright.
_STOP_WAIT = 10.0
_SUBREAPER = sys.platform.startswith("linux")
# Runs as `python -I -c _SUPERVISOR COMMAND...`. A subreaper inherits the orphans of its
# descendants; on SIGTERM it SIGKILLs every live descendant (read from /proc), reaps, and
# exits 137, until none is left. Otherwise it exits as the command did.
_SUPERVISOR = r"""
import ctypes, os, signal, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
def descendants():
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != b"Z":
            parent[int(name)] = int(fields[1])
    found = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    found.discard(os.getpid())
    return found
def reap():
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return
def stop(signum, frame):
    for _ in range(100):
        pids = descendants()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap()
    os._exit(137)
signal.signal(signal.SIGTERM, stop)
command = subprocess.Popen(sys.argv[1:])
code = command.wait()
os._exit(code if code >= 0 else 128 - code)
"""


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
    if _SUBREAPER:
        argv = [sys.executable, "-I", "-c", _SUPERVISOR, _program(argv[0], env), *argv[1:]]
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
        _stop(proc)
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


def _program(name: str, env: Mapping[str, str]) -> str:
    """``name`` as the path the command's PATH finds (a FileNotFoundError if none), so the
    supervisor never reports a missing program as a failed one."""
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(2, "no such program", name)
    return found


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The command and everything it started, killed: by the supervisor where there is
    one (it finds what left the group), then the group, whatever is left of it."""
    if _SUBREAPER:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(_STOP_WAIT)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    _kill_group(proc)
    proc.wait()


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
