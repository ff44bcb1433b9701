"""A Flyte config (``~/.flyte/config.yaml``): read, and edited without disturbing anything else.

- :func:`read_admin` reads its ``admin`` mapping; :func:`parse_endpoint` reads
  ``admin.endpoint`` into an :class:`Endpoint` (host, port, TLS, whether loopback).
- :func:`set_admin_keys` changes keys of ``admin`` in the text, :func:`remove_admin_keys`
  removes some; each returns an :class:`Edited`: the new text, each :class:`Change`
  (``MISSING`` for a key that was not there, or is no longer) and the new ``admin``.
  Everything outside the changed lines stays byte-identical (comments, order, quoting),
  and the result is parsed again and compared with what was meant before it is returned.
- :func:`config_path` is where the config is (``--config``, else ``FLYTECTL_CONFIG``,
  else ``~/.flyte/config.yaml``); :func:`write_atomic` puts a text in place;
  :func:`write_target` says where (through a symbolic link).

Bad input raises :class:`flyte_iap.errors.ConfigError`. ``configure`` writes a config
with this package, ``doctor`` reads one. It needs YAML, and imports nothing of the tool
but the bottom floor (``errors``, ``hosts``).
"""

from flyte_iap.flyteconfig.endpoint import Endpoint, parse_endpoint
from flyte_iap.flyteconfig.store import config_path, write_atomic, write_target
from flyte_iap.flyteconfig.yamledit import (
    MISSING,
    Change,
    Edited,
    read_admin,
    remove_admin_keys,
    set_admin_keys,
)

__all__ = [
    "MISSING",
    "Change",
    "Edited",
    "Endpoint",
    "config_path",
    "parse_endpoint",
    "read_admin",
    "remove_admin_keys",
    "set_admin_keys",
    "write_atomic",
    "write_target",
]
