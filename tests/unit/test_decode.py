"""``decode`` and ``google.verify`` in process: real tokens from the emulator (got through
the command line), tokens signed with a key of the test's own behind a real certs
server, a clock that is a seam, and google-auth checking every signature."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from flyte_iap.cli.app import run
from flyte_iap.cli.decode import MAX_TOKEN, read_token
from flyte_iap.cli.wiring import Wiring
from flyte_iap.emulator import Emulator
from flyte_iap.emulator.keys import SigningKey, b64url_encode
from flyte_iap.errors import ProtocolError, UsageError
from flyte_iap.google import CLOCK_SKEW, Verdict, decode_parts, verify_id_token
from flyte_iap.transport import HttpClient

from ..cli import InProcessCli, Result
from ..stub_server import Reply, StubServer
from ..tokens import AUD, GOOGLE_ISSUER, sa_args, signed, v1_certs

ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


# --- tokens and certs of the test's own ------------------------------------------------
@pytest.fixture(scope="module")
def own_key() -> SigningKey:
    return SigningKey.generate("test-signer")


def v3_certs(*keys: SigningKey) -> Reply:
    """What https://www.googleapis.com/oauth2/v3/certs answers: a JWK set."""
    jwks = []
    for k in keys:
        numbers = k.public_key.public_numbers()
        n, e = (
            b64url_encode(x.to_bytes((x.bit_length() + 7) // 8, "big"))
            for x in (numbers.n, numbers.e)
        )
        jwks.append({"kid": k.kid, "kty": "RSA", "alg": "RS256", "use": "sig", "n": n, "e": e})
    return Reply.json({"keys": jwks})


def with_claims(token: str, **changes: Any) -> str:
    """``token`` with its payload rewritten and its signature kept: a tampered token."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body = b64url_encode(json.dumps({**claims, **changes}).encode())
    return f"{header}.{body}.{signature}"


def http() -> HttpClient:
    return HttpClient(timeout=5, sleep=lambda seconds: None)


def verdicts(
    token: str, certs_uri: str, audience: str = AUD, now: float | None = None
) -> dict[str, Verdict]:
    found = verify_id_token(token, audience, certs_uri, http(), time.time() if now is None else now)
    assert [v.name for v in found] == ["signature", "issuer", "audience", "expiry"]
    return {v.name: v for v in found}


def failing(found: dict[str, Verdict]) -> set[str]:
    return {name for name, v in found.items() if not v.ok}


# --- the command line in process, with a clock of the test's choosing ----------------------
@pytest.fixture
def emulator_token(run_cli: InProcessCli, emulator: Emulator, tmp_path: Path) -> str:
    key = emulator.write_service_account_key(tmp_path / "key.json")
    return run_cli(*sa_args(key=key)).token


def decode_cli(
    run_cli: InProcessCli, *args: str, clock: Callable[[], float] = time.time, **env: str
) -> Result:
    out, err = io.StringIO(), io.StringIO()
    wiring = Wiring({**run_cli.env, **env}, clock=clock, sleep=lambda seconds: None)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(["decode", *args], wiring)
    return Result(code, out.getvalue(), err.getvalue())


def claims_of(token: str) -> dict[str, Any]:
    return decode_parts(token, "the token")[1]


# --- verdicts ---------------------------------------------------------------------------
def test_a_token_from_the_emulator_passes_every_check(
    emulator: Emulator, emulator_token: str
) -> None:
    found = verdicts(emulator_token, emulator.certs_uri)
    assert failing(found) == set()
    assert emulator.certs_uri in found["signature"].detail
    assert found["expiry"].detail.startswith("expires in 60 min")


def test_expiry_allows_a_little_clock_skew_and_no_more(
    emulator: Emulator, emulator_token: str
) -> None:
    exp = claims_of(emulator_token)["exp"]
    within = verdicts(emulator_token, emulator.certs_uri, now=exp + CLOCK_SKEW - 5)
    assert failing(within) == set() and "within" in within["expiry"].detail
    past = verdicts(emulator_token, emulator.certs_uri, now=exp + CLOCK_SKEW + 3 * 60)
    assert failing(past) == {"expiry"}
    assert past["expiry"].detail.startswith("expired 4 min ago")


def test_a_token_from_the_future_fails_expiry(emulator: Emulator, emulator_token: str) -> None:
    iat = claims_of(emulator_token)["iat"]
    found = verdicts(emulator_token, emulator.certs_uri, now=iat - 3600)
    assert failing(found) == {"expiry"} and "clock" in found["expiry"].detail


def test_wrong_audience_fails_only_the_audience(emulator: Emulator, emulator_token: str) -> None:
    found = verdicts(
        emulator_token, emulator.certs_uri, audience="desktop.apps.googleusercontent.com"
    )
    assert failing(found) == {"audience"}
    assert AUD in found["audience"].detail


def test_a_token_for_the_client_that_asked_says_so(own_key: SigningKey) -> None:
    token = signed(own_key, aud="desktop.apps", azp="desktop.apps")
    with StubServer(v1_certs(own_key)) as certs:
        found = verdicts(token, certs.url)
    assert failing(found) == {"audience"} and "not for IAP" in found["audience"].detail


@pytest.mark.parametrize("iss", ["https://evil.example", "https://accounts.google.com.evil", None])
def test_a_foreign_issuer_fails_the_issuer(own_key: SigningKey, iss: str | None) -> None:
    with StubServer(v1_certs(own_key)) as certs:
        found = verdicts(signed(own_key, iss=iss), certs.url)
    assert failing(found) == {"issuer"}


def test_google_has_two_spellings_of_its_issuer(own_key: SigningKey) -> None:
    with StubServer(v1_certs(own_key)) as certs:
        assert failing(verdicts(signed(own_key, iss="accounts.google.com"), certs.url)) == set()


def test_a_tampered_payload_fails_the_signature(emulator: Emulator, emulator_token: str) -> None:
    forged = with_claims(emulator_token, email="admin@corp.example")
    found = verdicts(forged, emulator.certs_uri)
    assert failing(found) == {"signature"} and "altered" in found["signature"].detail


def test_a_token_signed_by_another_key_fails_the_signature(
    emulator: Emulator, own_key: SigningKey
) -> None:
    unknown_kid = verdicts(signed(own_key), emulator.certs_uri)
    assert failing(unknown_kid) == {"signature"} and "not one of" in unknown_kid["signature"].detail
    # Another key passing itself off under the emulator's key id.
    (emulator_kid,) = requests.get(emulator.certs_uri, timeout=5).json()
    impostor = SigningKey(emulator_kid, own_key.private_key, own_key.certificate)
    borrowed_kid = verdicts(signed(impostor), emulator.certs_uri)
    assert failing(borrowed_kid) == {"signature"} and "altered" in borrowed_kid["signature"].detail


def test_certs_in_the_jwk_format_of_v3_verify_too(own_key: SigningKey) -> None:
    other = SigningKey.generate("other")
    with StubServer(v3_certs(other, own_key)) as certs:
        assert failing(verdicts(signed(own_key), certs.url)) == set()


@pytest.mark.parametrize("header", [{"alg": "none"}, {"alg": "HS256", "typ": "JWT"}])
def test_an_algorithm_other_than_rs256_fails_without_asking_for_certs(
    header: dict[str, str],
) -> None:
    payload = b64url_encode(
        json.dumps({"iss": GOOGLE_ISSUER, "aud": AUD, "exp": time.time() + 60}).encode()
    )
    token = f"{b64url_encode(json.dumps(header).encode())}.{payload}.c2ln"
    with StubServer(Reply.json({})) as certs:
        found = verdicts(token, certs.url)
        assert certs.requests == []
    assert failing(found) == {"signature"} and "RS256" in found["signature"].detail


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (Reply.html("<html>captive portal</html>"), "not a JSON object"),
        (Reply(503), "503"),
        (Reply.json({"k": "not a certificate", "e": {"kty": "EC"}}), "no usable RSA key"),
        (Reply.json({"keys": [{"kid": "k", "kty": "RSA", "n": "!!", "e": "AQAB"}]}), "no usable"),
    ],
)
def test_certs_that_cannot_be_read_fail_the_signature_only(
    own_key: SigningKey, reply: Reply, needle: str
) -> None:
    with StubServer(reply) as certs:
        found = verdicts(signed(own_key), certs.url)
    assert failing(found) == {"signature"}
    assert (
        found["signature"].detail.startswith("not checked") and needle in found["signature"].detail
    )


def test_certs_that_do_not_answer_fail_the_signature_in_words() -> None:
    found = verdicts(signed(SigningKey.generate("x")), "http://127.0.0.1:9/oauth2/v1/certs")
    assert failing(found) == {"signature"} and "could not reach" in found["signature"].detail


# --- the command's output -------------------------------------------------------------------
def test_decode_shows_header_claims_and_times_but_never_the_signature(
    run_cli: InProcessCli, emulator_token: str
) -> None:
    result = decode_cli(run_cli, emulator_token)
    assert result.returncode == 0, result.stderr
    assert emulator_token.split(".")[2] not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "header:" and "  alg: RS256" in lines and "claims:" in lines
    assert f"  aud: {AUD}" in lines
    exp_line = next(line for line in lines if line.startswith("  exp: "))
    assert ISO_WITH_OFFSET.search(exp_line) and "expires in 60 min" in exp_line
    assert "  email_verified: true" in lines
    assert "not verified" in result.stderr


def test_decode_of_an_expired_token_says_how_long_ago(
    run_cli: InProcessCli, emulator_token: str
) -> None:
    later = claims_of(emulator_token)["exp"] + 2 * 3600
    result = decode_cli(run_cli, emulator_token, clock=lambda: later)
    assert result.returncode == 0
    assert "expired 2 h ago" in result.stdout and "3 h ago" in result.stdout  # exp, iat


def test_verify_prints_one_verdict_per_check_and_exits_0(
    run_cli: InProcessCli, emulator_token: str
) -> None:
    result = decode_cli(run_cli, "--verify", "--audience", AUD, emulator_token)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = result.stdout.split("checks:\n", 1)[1].splitlines()
    assert [line.split(":")[0].strip() for line in checks] == [
        "✓ signature",
        "✓ issuer",
        "✓ audience",
        "✓ expiry",
    ]
    assert f"{CLOCK_SKEW} s of clock skew" in checks[3]
    assert emulator_token.split(".")[2] not in result.stdout


def test_verify_exits_1_naming_what_failed(run_cli: InProcessCli, emulator_token: str) -> None:
    later = claims_of(emulator_token)["exp"] + 3600
    result = decode_cli(
        run_cli, "--verify", "--audience", "other", emulator_token, clock=lambda: later
    )
    assert result.returncode == 1
    assert (
        "  ✗ audience: aud is" in result.stdout
        and "  ✗ expiry: expired 60 min ago" in result.stdout
    )
    assert result.stderr == "flyte-iap: 2 of 4 checks failed: audience, expiry\n"


def test_verify_uses_flyte_iap_certs_uri(run_cli: InProcessCli, own_key: SigningKey) -> None:
    with StubServer(v1_certs(own_key)) as certs:
        result = decode_cli(
            run_cli, "--verify", "--audience", AUD, signed(own_key), FLYTE_IAP_CERTS_URI=certs.url
        )
        assert len(certs.requests) == 1
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--verify"], "--verify needs --audience"), (["--audience", AUD], "only with --verify")],
)
def test_verify_and_audience_go_together(
    run_cli: InProcessCli, emulator_token: str, args: list[str], needle: str
) -> None:
    result = decode_cli(run_cli, *args, emulator_token)
    assert result.returncode == 2 and result.stdout == "" and needle in result.stderr


def test_a_claim_with_terminal_escapes_is_printed_defused(
    run_cli: InProcessCli, own_key: SigningKey
) -> None:
    evil = "\x1b]0;owned\x07\x1b[2J\x1b[31madmin@corp\u202e\nflyte-iap: verified"
    token = signed(own_key, email=evil, **{"\x1b[1mkey": ["\x1b[31m"]})
    result = decode_cli(run_cli, token)
    assert result.returncode == 0
    assert not any(c in result.stdout for c in "\x1b\x07\u202e")
    assert (
        "  email: ?]0;owned??[2J?[31madmin@corp??flyte-iap: verified" in result.stdout.splitlines()
    )


def test_help_warns_that_an_argument_shows_in_ps(run_cli: InProcessCli) -> None:
    result = decode_cli(run_cli, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "(ps)" in text and f"{CLOCK_SKEW} s of clock skew" in text and "exit 2" in text


# --- not a JWT --------------------------------------------------------------------------------
def part(value: Any) -> str:
    raw = value if isinstance(value, str) else json.dumps(value)
    return b64url_encode(raw.encode())


GOOD_HEADER = part({"alg": "RS256"})
DEEP = '{"a": ' + "[" * 20_000 + "]" * 20_000 + "}"  # deeper than json.loads can go
NOT_JWTS = {
    "a word": ("garbage", "three base64url parts"),
    "two parts": (f"{GOOD_HEADER}.{part({})}", "three base64url parts"),
    "spaces": (f"{GOOD_HEADER}. {part({})}.c2ln", "three base64url parts"),
    "opaque access token": ("ya29.a0AfH6SMB-x_y.z", "header is not base64url JSON"),
    "payload not JSON": (f"{GOOD_HEADER}.{part('not json')}.c2ln", "payload is not base64url JSON"),
    "payload a list": (f"{GOOD_HEADER}.{part([1, 2])}.c2ln", "payload is not a JSON object"),
    "header a string": (
        f"{part(json.dumps('RS256'))}.{part({})}.c2ln",
        "header is not a JSON object",
    ),
    "nested past the parser": (
        f"{GOOD_HEADER}.{part(DEEP)}.c2ln",
        "nested too deep",
    ),
    "nested past the limit": (
        f"{GOOD_HEADER}.{part({'a': json.loads('[' * 25 + ']' * 25)})}.c2ln",
        "nested too deep",
    ),
}


@pytest.mark.parametrize("kind", sorted(NOT_JWTS))
def test_what_is_not_a_jwt_gets_one_line_and_exit_2(run_cli: InProcessCli, kind: str) -> None:
    text, needle = NOT_JWTS[kind]
    for args in (["--verify", "--audience", AUD, text], [text]):
        result = decode_cli(run_cli, *args)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and needle in result.stderr, result.stderr
        assert result.stderr.startswith("flyte-iap: the token is not a JWT")


def test_decode_parts_raises_what_the_message_says() -> None:
    with pytest.raises(ProtocolError, match="the proxy command's output is not a JWT"):
        decode_parts("<html>", "the proxy command's output")
    header, claims = decode_parts(f"{GOOD_HEADER}.{part({'google': {'a': {'b': [1]}}})}.c2ln", "x")
    assert header == {"alg": "RS256"} and claims["google"]["a"]["b"] == [1]


# --- stdin ----------------------------------------------------------------------------------
def test_read_token_strips_whitespace_and_is_bounded() -> None:
    assert read_token(io.BytesIO(b"\n  a.b.c \r\n")).strip() == "a.b.c"
    with pytest.raises(UsageError, match="longer than 64 KiB"):
        read_token(io.BytesIO(b"a" * (MAX_TOKEN + 1) + b"never read" * 100_000))
    with pytest.raises(UsageError, match="no token"):
        read_token(io.BytesIO(b"  \n"))


@pytest.mark.parametrize(
    ("exp", "passes"),
    [("1e400", False), ("1" + "0" * 400, False), ("true", False), ('"tomorrow"', False),
     ("-1e300", False), ("1e300", True)],
)  # fmt: skip
def test_times_no_clock_can_reach_are_shown_without_a_traceback(
    run_cli: InProcessCli, own_key: SigningKey, exp: str, passes: bool
) -> None:
    header, _, _ = signed(own_key).split(".")
    payload = part(f'{{"iss": "{GOOGLE_ISSUER}", "aud": "{AUD}", "exp": {exp}}}')
    token = f"{header}.{payload}.c2ln"
    result = decode_cli(run_cli, token)
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("  exp: ") for line in result.stdout.splitlines())
    with StubServer(v1_certs(own_key)) as certs:
        assert verdicts(token, certs.url)["expiry"].ok is passes
