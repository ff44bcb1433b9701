"""Edit a Flyte config (``~/.flyte/config.yaml``) without disturbing anything else.

``set_admin_keys`` changes keys of the ``admin`` mapping in the text of a config and
returns the new text, what changed and the new ``admin``: everything outside the changed lines stays
byte-identical (comments, order, quoting), and the result is parsed again and
compared with what was meant before it is returned. ``write_atomic`` puts it in
place; ``write_target`` says where (through a symbolic link); ``checked_endpoint``
and ``is_loopback`` judge an ``admin.endpoint``. Bad input raises
:class:`ConfigError`. The command line is ``flyte_iap.cli.configure``.

Like ``manifests``, this package needs YAML and imports nothing of the core.
"""

from flyte_iap.flyteconfig.endpoint import checked_endpoint, is_loopback
from flyte_iap.flyteconfig.errors import ConfigError
from flyte_iap.flyteconfig.store import write_atomic, write_target
from flyte_iap.flyteconfig.yamledit import MISSING, Change, Edited, set_admin_keys

__all__ = [
    "MISSING",
    "Change",
    "ConfigError",
    "Edited",
    "checked_endpoint",
    "is_loopback",
    "set_admin_keys",
    "write_atomic",
    "write_target",
]
