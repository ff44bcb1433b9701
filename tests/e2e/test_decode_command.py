"""``flyte-iap decode`` as a person runs it: the installed command in a subprocess, the
token piped in from ``generate-service-account-id-token`` or given as an argument,
certs from the emulator or from a real server on 127.0.0.1 serving a key of the test's
own (for tokens the emulator would never issue: expired, foreign issuer)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from flyte_iap.emulator import Emulator
from flyte_iap.emulator.keys import SigningKey, b64url_encode

from ..cli import Cli, Result, flyte_iap_command
from ..stub_server import StubServer
from ..tokens import AUD, sa_args, signed, v1_certs


def decode(cli: Cli, *args: str, stdin: str | None = None, **env: str) -> Result:
    """``flyte-iap decode ARGS`` with ``stdin`` piped in (nothing: an empty stdin)."""
    proc = subprocess.run(
        [*flyte_iap_command(), "decode", *args],
        env={**cli.env, **env},
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def token(cli: Cli, emulator: Emulator, tmp_path: Path) -> str:
    """A real token through the real command line."""
    key = emulator.write_service_account_key(tmp_path / "key.json")
    return cli(*sa_args(key=key)).token


@pytest.fixture(scope="module")
def own_key() -> SigningKey:
    return SigningKey.generate("e2e-signer")


def certs_of(key: SigningKey) -> StubServer:
    """Google's v1 certs endpoint, serving ``key``."""
    return StubServer(v1_certs(key))


def checks(result: Result) -> dict[str, str]:
    """{check: its line} from the verdicts after "checks:"."""
    lines = result.stdout.split("checks:\n", 1)[1].splitlines()
    return {line.split()[1].rstrip(":"): line.strip() for line in lines}


def test_a_piped_token_from_the_emulator_is_verified(cli: Cli, token: str) -> None:
    result = decode(cli, "--verify", "--audience", AUD, stdin=f"  {token}\n\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(checks(result)) == ["signature", "issuer", "audience", "expiry"]
    assert all(line.startswith("✓ ") for line in checks(result).values())
    assert token.split(".")[2] not in result.stdout + result.stderr
    assert f"  aud: {AUD}" in result.stdout.splitlines()


def test_the_same_token_with_another_audience_fails(cli: Cli, token: str) -> None:
    result = decode(cli, "--verify", "--audience", "123-desktop.apps.googleusercontent.com", token)
    assert result.returncode == 1
    assert checks(result)["audience"].startswith("✗ audience: aud is")
    assert [name for name, line in checks(result).items() if line.startswith("✗")] == ["audience"]
    assert "1 of 4 checks failed: audience" in result.stderr


def test_a_tampered_token_fails_the_signature(cli: Cli, token: str) -> None:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = b64url_encode(json.dumps({**claims, "email": "admin@corp.example"}).encode())
    result = decode(cli, "--verify", "--audience", AUD, stdin=f"{header}.{forged}.{signature}")
    assert result.returncode == 1
    assert checks(result)["signature"].startswith("✗ signature: does not match")
    assert signature not in result.stdout + result.stderr


def test_a_token_signed_by_another_key_fails_the_signature(cli: Cli, own_key: SigningKey) -> None:
    result = decode(cli, "--verify", "--audience", AUD, stdin=signed(own_key))
    assert result.returncode == 1
    assert checks(result)["signature"].startswith("✗ signature: its key id")


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 4200}, "expiry"),
        ({"iss": "https://evil.example"}, "issuer"),
    ],
)
def test_expired_and_foreign_tokens_fail_their_check(
    cli: Cli, own_key: SigningKey, changes: dict[str, Any], failed: str
) -> None:
    with certs_of(own_key) as certs:
        result = decode(cli, "--verify", "--audience", AUD, stdin=signed(own_key, **changes),
                        FLYTE_IAP_CERTS_URI=certs.url)  # fmt: skip
    assert result.returncode == 1
    bad = [name for name, line in checks(result).items() if line.startswith("✗")]
    assert bad == [failed], result.stdout


def test_an_expired_token_says_when_in_local_time(cli: Cli, own_key: SigningKey) -> None:
    exp = int(time.time()) - 600
    # A POSIX TZ string needs no tz database: five and a half hours east of UTC.
    result = decode(cli, stdin=signed(own_key, exp=exp), TZ="IST-5:30")
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if line.startswith("  exp: "))
    assert re.fullmatch(
        rf"  exp: {exp} \(\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30, expired 10 min ago\)", line
    )


@pytest.mark.parametrize(
    "garbage", ["garbage", "<html>captive portal</html>", "a.b.c", "e30.W10.c2ln"]
)
def test_garbage_gets_one_line_and_exit_2(cli: Cli, garbage: str) -> None:
    for result in (decode(cli, garbage), decode(cli, "-", stdin=garbage)):
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.startswith("flyte-iap: the token is not a JWT")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_nothing_on_stdin_is_a_usage_error(cli: Cli) -> None:
    result = decode(cli)
    assert result.returncode == 2 and result.stdout == "" and "no token" in result.stderr


def test_escapes_in_claims_never_reach_the_terminal(cli: Cli, own_key: SigningKey) -> None:
    token = signed(own_key, email="\x1b]52;c;cm0gLXJmIH4=\x07\x1b[31mroot\r\nflyte-iap: ✓")
    result = decode(cli, stdin=token)
    assert result.returncode == 0
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.stdout)
    assert "  email: ?]52;c;cm0gLXJmIH4=??[31mroot??flyte-iap: ✓" in result.stdout.splitlines()
