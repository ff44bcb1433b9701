"""The :class:`Upstream` allowed requests go to, parsed from its URL and checked."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class GateConfigError(ValueError):
    """An upstream URL the gate cannot pass requests on to."""


@dataclass(frozen=True)
class Upstream:
    """Where allowed requests go: ``http://host:port`` and an optional path prefix."""

    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Upstream:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port or 80
        except ValueError:
            raise GateConfigError(f"{url!r} has no valid port") from None
        if parts.scheme != "http" or not parts.hostname:
            raise GateConfigError(f"{url!r} is not an http://HOST[:PORT] URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise GateConfigError(f"{url!r} may not carry a user, a query or a fragment")
        if _CONTROL.search(url) or " " in url or "\\" in url:
            raise GateConfigError("the upstream URL holds spaces or control characters")
        return cls(parts.hostname, port, parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.prefix}"
