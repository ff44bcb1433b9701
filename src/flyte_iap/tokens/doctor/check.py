"""A check's verdict, and making outside text safe for one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flyte_iap.errors import shown

OK, FAIL, NA = "ok", "fail", "na"
# Three base64url parts: what a JWT looks like, wherever a server or a command echoes one.
_JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Check:
    """One check: ``status`` is OK, FAIL or NA; ``fix`` says what to do about a FAIL;
    ``alarm`` is a finding worth shouting (the endpoint is not behind IAP)."""

    name: str
    status: str
    detail: str
    fix: str = ""
    alarm: str = ""


def ok(name: str, detail: str) -> Check:
    return Check(name, OK, detail)


def fail(name: str, detail: str, fix: str, alarm: str = "") -> Check:
    return Check(name, FAIL, detail, fix, alarm)


def na(name: str, detail: str) -> Check:
    return Check(name, NA, detail)


def redacted(text: str, limit: int = 160) -> str:
    """``text`` from outside (a body, a command's stderr) with anything shaped like a
    JWT replaced, one line, through :func:`shown`."""
    return shown(" ".join(_JWT.sub("[a JWT]", text).split()), limit)
