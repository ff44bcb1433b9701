"""Who obtains a token, as a digest: a credentials file, or this machine's metadata server."""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_METADATA_HOST = "metadata.google.internal"


def metadata_host(env: Mapping[str, str]) -> str:
    """``GCE_METADATA_HOST``, as google-auth reads it, else Google's metadata host."""
    return env.get("GCE_METADATA_HOST") or DEFAULT_METADATA_HOST


def source_id(info: Mapping[str, object] | None, env: Mapping[str, str]) -> str:
    """Who obtains a token, in 16 hex digits: the credentials file, all of it (its private
    key, refresh token or federation config), or else this machine's metadata server.

    Part of a cached token's name, so that a token is only served to the credentials that
    obtained it: a key file with another private key, another caller of an impersonation,
    a metadata server that claims a key file's account, or another machine sharing this
    home directory (each has its own metadata server) get their own.
    """
    if info is None:
        text = f"metadata\n{metadata_host(env)}\n{_machine(env)}"
    else:
        text = "file\n" + json.dumps(info, sort_keys=True)
    return _digest(text.encode("utf-8", "surrogatepass"))


def _machine(env: Mapping[str, str]) -> str:
    """This machine (pod, VM) and its current boot: a VM's account may change on restart."""
    if sys.platform == "win32":
        return env.get("COMPUTERNAME", "")
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot = f.read(64).decode("ascii", "replace").strip()
    except OSError:
        boot = ""
    return f"{os.uname().nodename}\n{boot}"


def _digest(data: bytes) -> str:
    try:
        # hashlib's own blake2b, without the 2-3 ms hashlib spends loading OpenSSL.
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - an interpreter without the builtin
        from hashlib import blake2b
    return blake2b(data, digest_size=8).hexdigest()
