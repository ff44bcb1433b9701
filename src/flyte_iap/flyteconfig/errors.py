"""The one error of this package: a config file it will not edit, and why."""

from __future__ import annotations


class ConfigError(Exception):
    """A Flyte config that is not YAML, not a mapping, or not editable exactly.

    The message names the file's problem (never its contents: a config may hold
    secrets) and what to do; the command line turns it into a usage error (exit 2).
    """
