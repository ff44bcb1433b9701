"""``decode``: a JWT's header and claims made readable, and with ``--verify`` checked as
IAP would check them (``google.verify``). The signature is never printed, and every
value from the token passes through ``errors.shown``: its claims are whatever its
author wrote, escapes included."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from flyte_iap.cli.options import VERBOSE
from flyte_iap.cli.params import click_option, wiring
from flyte_iap.errors import ProtocolError, UsageError, shown
from flyte_iap.google import Verdict, decode_parts, duration, is_time, local_time

#: The most read from stdin or taken from the command line: Google's tokens are ~1 KiB.
MAX_TOKEN = 64 * 1024
#: Claims shown with their local time and how far from now they are.
TIMES = ("iat", "exp", "nbf", "auth_time")
#: The longest a value is shown: more is cut, with "…".
VALUE_LIMIT = 500


@click.command("decode")
@click.argument("token", required=False, metavar="[TOKEN | -]")
@click.option("--verify", is_flag=True, help="Check the signature, issuer, audience and expiry.")
@click.option("--audience", metavar="AUD", help="With --verify: the IAP OAuth client id.")
@click_option(VERBOSE)
def decode(token: str | None, verify: bool, audience: str | None) -> int:
    """Show a JWT's header and claims (never its signature); with --verify, check it.

    TOKEN is read from stdin when it is '-' or not given. A TOKEN on the command line
    can be seen by other users of this machine (ps) and lands in shell history: prefer
    `flyte-iap generate-... | flyte-iap decode`.

    --verify --audience AUD checks the RS256 signature against Google's certs
    (FLYTE_IAP_CERTS_URI; default https://www.googleapis.com/oauth2/v1/certs), that
    the issuer is Google, that aud is AUD, and that the token has not expired
    (allowing 60 s of clock skew). One line per check, after the claims; exit 1 when
    any fails. --audience alone checks nothing and is refused. Not a JWT: exit 2.
    """
    if verify != bool(audience):
        raise click.UsageError(
            "--verify needs --audience AUD (the IAP OAuth client id)"
            if verify
            else "--audience is used only with --verify: add --verify to check the token"
        )
    run = wiring()
    text = read_token(sys.stdin.buffer) if token in (None, "-") else token
    header, claims = parse(checked_size(text.strip()))
    now = run.clock()
    lines = describe(header, claims, now)
    verdicts: list[Verdict] = []
    if verify:
        from flyte_iap.google import Endpoints, verify_id_token

        certs_uri = Endpoints.from_env(run.env).certs_uri
        verdicts = verify_id_token(text.strip(), str(audience), certs_uri, run.http, now)
        lines += verdict_lines(verdicts, sys.stdout)
    for line in lines:
        click.echo(printable(line, sys.stdout))
    failed = [v.name for v in verdicts if not v.ok]
    if failed:
        names = ", ".join(failed)
        click.echo(f"flyte-iap: {len(failed)} of {len(verdicts)} checks failed: {names}", err=True)
        return 1
    if not verify:
        click.echo("flyte-iap: not verified (add --verify --audience AUD to check it)", err=True)
    return 0


def read_token(stream: IO[bytes]) -> str:
    """The token on ``stream`` (stdin), read to its end but never more than MAX_TOKEN."""
    if stream.isatty():
        click.echo("flyte-iap: paste the token, then press Ctrl-D", err=True)
    data = stream.read(MAX_TOKEN + 1)
    if not data.strip():
        raise UsageError("no token: give it as an argument, or on stdin ('-' or nothing)")
    return checked_size(data.decode("utf-8", errors="replace"))


def checked_size(text: str) -> str:
    if len(text) > MAX_TOKEN:
        raise UsageError(f"the token is longer than {MAX_TOKEN // 1024} KiB: not an ID token")
    return text


def parse(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims); a UsageError (exit 2) saying how ``token`` is not a JWT."""
    try:
        return decode_parts(token, "the token")
    except ProtocolError as exc:
        raise UsageError(str(exc)) from None


def describe(header: dict[str, Any], claims: dict[str, Any], now: float) -> list[str]:
    """``name: value`` lines of the header, then of the claims in the token's order."""
    lines = ["header:"]
    lines += [f"  {shown(name, 80)}: {value_text(value)}" for name, value in header.items()]
    lines.append("claims:")
    for name, value in claims.items():
        text = value_text(value)
        if name in TIMES and is_time(value):
            text += f" ({local_time(value)}, {relative(name, value - now)})"
        lines.append(f"  {shown(name, 80)}: {text}")
    lines.append("signature: not shown")
    return lines


def value_text(value: object) -> str:
    """A claim's value for one line: a string as it is, anything else as compact JSON;
    controls and escapes defused, cut at VALUE_LIMIT."""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return shown(value, VALUE_LIMIT)


def relative(name: str, ahead: float) -> str:
    """How far a time claim is from now: "expires in 42 min", "expired 3 min ago"."""
    if name == "exp":
        return f"expires in {duration(ahead)}" if ahead > 0 else f"expired {duration(ahead)} ago"
    return f"in {duration(ahead)}" if ahead > 0 else f"{duration(ahead)} ago"


def verdict_lines(verdicts: list[Verdict], out: IO[str]) -> list[str]:
    """One line per check: ✓ or ✗ (OK / FAIL where ``out`` cannot show them), name, why."""
    good, bad = ("✓", "✗") if printable("✓✗", out) == "✓✗" else ("OK", "FAIL")
    marked = [f"  {good if v.ok else bad} {v.name}: {v.detail}" for v in verdicts]
    return ["checks:", *marked]


def printable(line: str, out: IO[str]) -> str:
    """``line`` with what ``out``'s encoding cannot carry (a claim in CJK on a cp1252
    pipe) replaced by ``?``, so that printing never fails half way."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        return line.encode(encoding, errors="replace").decode(encoding)
    except LookupError:
        return line
