"""A check's verdict, and making outside text safe for one."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from flyte_iap.errors import shown


class Status(enum.StrEnum):
    """How a check ended."""

    OK = "ok"
    FAIL = "fail"
    NA = "na"  # not applicable: not checked, or nothing to check


# Three base64url parts: what a JWT looks like, wherever a server or a command echoes one.
_JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Check:
    """One check: its ``status``; ``fix`` says what to do about a FAIL;
    ``alarm`` is a finding worth shouting (the endpoint is not behind IAP)."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    alarm: str = ""


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def fail(name: str, detail: str, fix: str, alarm: str = "") -> Check:
    return Check(name, Status.FAIL, detail, fix, alarm)


def na(name: str, detail: str) -> Check:
    return Check(name, Status.NA, detail)


def redacted(text: str, limit: int = 160) -> str:
    """``text`` from outside (a body, a command's stderr) with anything shaped like a
    JWT replaced, one line, through :func:`shown`."""
    return shown(" ".join(_JWT.sub("[a JWT]", text).split()), limit)
