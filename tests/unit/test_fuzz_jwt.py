"""Property-based tests of reading JWTs: ``google.claims`` on any text (a ProtocolError or
a result, every message printable), and ``decode`` (with ``--verify --audience`` against
certs served on 127.0.0.1) on any token: exit 0, 1 or 2, never a traceback, and nothing
of the token's that would drive a terminal on stdout or stderr.

Tokens are built from JSON objects with the claims that matter (alg, kid, iss, aud, exp,
iat, nbf) holding values of every type (huge and negative numbers, NaN, strings with
escapes, bidi overrides, lone surrogates, nesting around the depth limit), then mangled:
parts not base64url, not JSON or not objects, padding, whitespace, extra dots, unicode.
Some are signed with the test's own key, so that ``--verify`` passes now and then.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sys
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import event, given
from hypothesis import strategies as st

from flyte_iap.cli.app import run
from flyte_iap.cli.wiring import Wiring
from flyte_iap.emulator.keys import SigningKey
from flyte_iap.errors import ProtocolError
from flyte_iap.google import check_id_token, decode_parts, id_token_problems
from flyte_iap.google.claims import MAX_DEPTH, unverified_claims

from ..stub_server import StubServer
from ..tokens import GOOGLE_ISSUER, v1_certs

NOW = 1_900_000_000.0
AUD = "123-abc.apps.googleusercontent.com"
WHAT = "the token"


T = TypeVar("T")


def mostly(common: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``common`` three times in four, else ``rare`` (``one_of`` would flatten ``rare``'s
    own branches and draw it more often than that)."""
    return st.integers(0, 3).flatmap(lambda i: rare if i == 3 else common)


# --- JSON of every kind ------------------------------------------------------------------
HOSTILE = [
    "\x1b[2J", "\x1b]0;x\x07", "a\nflyte-iap: ok", "\u202eevil", "\r", "\x00", "\ud800",
    "\u2028", "\x9b31m", "\u00e9", "\U0001d7d3", "\u0661\u0662\u0663",  # unicode digits
]  # fmt: skip
hostile_text = st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE))
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    st.sampled_from([NOW, NOW + 3600, NOW - 3600, NOW + 10**6, 1e308, -1e308, 2**1024, 5e-324]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=10,
)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


claim_values = mostly(
    st.one_of(
        json_values,
        st.sampled_from([GOOGLE_ISSUER, "accounts.google.com", AUD, "RS256", "none", "test-key"]),
    ),
    st.sampled_from([MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, 200]).map(nested),
)
objects = st.dictionaries(
    st.one_of(
        st.sampled_from(["alg", "kid", "typ", "iss", "aud", "azp", "exp", "iat", "nbf", "email"]),
        hostile_text,
    ),
    claim_values,
    max_size=8,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def json_bytes(value: Any) -> bytes:
    """As json.dumps writes it: NaN and Infinity allowed, lone surrogates as escapes."""
    return json.dumps(value).encode()


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Parts that are not base64url of a JSON object, in ways a decoder may trip on.
ODD_JSON = [
    b"[]", b"1", b'"x"', b"null", b"{", b'{"a":1}{}', b"\xff\xfe{}", b"\xef\xbb\xbf{}",
    b'{"exp": 1' + b"0" * 5000 + b"}", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"exp": NaN}', b'{"exp": -Infinity}', b'{"a": "\\ud800"}', b'{"a":1,"a":2}',
]  # fmt: skip
odd_parts = st.one_of(
    st.text(B64URL, max_size=12),
    st.binary(max_size=20).map(b64),
    st.sampled_from(ODD_JSON).map(b64),
    st.sampled_from(["", "=", "a===", "+/", "a b", "\u00e9", "\x00", "A"]),
)
objects_b64 = objects.map(json_bytes).map(b64)
parts = mostly(objects_b64, odd_parts)


@st.composite
def mangled(draw: st.DrawFn, token: str) -> str:
    if draw(st.integers(0, 3)) < 3:
        return token
    how = draw(st.sampled_from(["insert", "delete", "pad", "space", "dots"]))
    at = draw(st.integers(0, len(token)))
    if how == "insert":
        return token[:at] + draw(st.sampled_from(list(". \n=+\u00e9\x1b"))) + token[at:]
    if how == "pad":
        return token + "=="
    if how == "space":
        return f" {token}\n"
    if how == "dots":
        return draw(st.sampled_from([".", "..", "...", "a.b", "a.b.c.d", token + "."]))
    return token[:at] + token[at + 1 :]


signatures = mostly(st.text(B64URL, min_size=1, max_size=30), odd_parts)
tokens = st.builds(lambda h, p, s: f"{h}.{p}.{s}", parts, parts, signatures).flatmap(mangled)


def printable(text: str) -> bool:
    return all(c.isprintable() for c in text)


# --- google.claims -------------------------------------------------------------------------
@given(mostly(tokens, st.text(max_size=40)))
def test_the_claim_readers_raise_only_protocol_errors(token: str) -> None:
    for read in (
        lambda: unverified_claims(token, WHAT),
        lambda: decode_parts(token, WHAT),
        lambda: id_token_problems(token, audience=AUD, now=NOW, what=WHAT),
        lambda: check_id_token(token, audience=AUD, what=WHAT, now=NOW),
    ):
        try:
            result = read()
        except ProtocolError as exc:
            assert printable(str(exc)), str(exc)
            continue
        assert isinstance(result, dict | tuple)
    try:
        header, claims = decode_parts(token, WHAT)
    except ProtocolError as exc:
        event(f"not a JWT: {str(exc).partition(': ')[2][:30]}")
        return
    event("a JWT")
    assert isinstance(header, dict) and isinstance(claims, dict)
    # The same payload (compared as JSON: a NaN claim is not equal to itself).
    assert json.dumps(unverified_claims(token, WHAT)) == json.dumps(claims)
    _, problems = id_token_problems(token, audience=AUD, now=NOW, what=WHAT)
    assert all(printable(p) for p in problems), problems
    if problems:
        with pytest.raises(ProtocolError):
            check_id_token(token, audience=AUD, what=WHAT, now=NOW)


# --- decode, in process ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("fuzz-key")


@pytest.fixture(scope="module")
def certs(key: SigningKey) -> Iterator[str]:
    # Stops by itself after ten minutes at the latest, far more than this module takes.
    with StubServer(v1_certs(key), lifetime=600) as server:
        yield server.url


def sign(key: SigningKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{b64(json_bytes(header))}.{b64(json_bytes(claims))}"
    signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


@st.composite
def signed_tokens(draw: st.DrawFn, key: SigningKey) -> str:
    """Tokens our key signed: good claims with some replaced by anything, and a header
    that is RS256 and names our key, or not."""
    claims = {"iss": GOOGLE_ISSUER, "aud": AUD, "iat": NOW - 60, "exp": NOW + 3000}
    claims.update(draw(objects))
    header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    if draw(st.booleans()):
        header.update(draw(objects))
    return sign(key, header, claims)


def decode_cli(args: list[str], certs_uri: str, stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = {"FLYTE_IAP_CERTS_URI": certs_uri, "FLYTE_IAP_HTTP_TIMEOUT": "5"}
    wiring = Wiring(env, clock=lambda: NOW, sleep=lambda seconds: None)
    given_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(["decode", *args], wiring)
    finally:
        sys.stdin = given_stdin
    return code, out.getvalue(), err.getvalue()


def assert_clean(code: int, out: str, err: str) -> None:
    """Exit 0, 1 or 2; a short stderr without a traceback or an unexpected error; not a
    character on either stream that is not printable, but the line ends."""
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert len(err.splitlines()) <= 2, err
    assert code == 0 or err, "a failure says why"
    assert printable(out.replace("\n", "")), out
    assert printable(err.replace("\n", "")), err
    if code == 2:
        assert out == ""
    else:
        assert out.startswith("header:\n")


@given(st.data())
def test_decode_exits_0_1_or_2_and_prints_nothing_unsafe(
    certs: str, key: SigningKey, data: st.DataObject
) -> None:
    token = data.draw(st.one_of(tokens, signed_tokens(key), signed_tokens(key).flatmap(mangled)))
    verify = data.draw(st.booleans(), label="verify")
    args = [token, "--verify", "--audience", AUD] if verify else [token]
    code, out, err = decode_cli(args, certs)
    event(f"exit {code}{' (verify)' if verify else ''}")
    assert_clean(code, out, err)


@given(st.one_of(st.binary(max_size=60), tokens.map(str.encode)))
def test_decode_reads_any_bytes_on_stdin(certs: str, raw: bytes) -> None:
    code, out, err = decode_cli(["-"], certs, stdin=raw)
    event(f"exit {code}")
    assert_clean(code, out, err)
