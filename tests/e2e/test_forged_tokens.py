"""ID tokens that are not what they claim (issue 8, items 10, 11 and 13).

A token endpoint (a scripted server on 127.0.0.1) answers with a token that a
broken or hostile endpoint could send. Nothing of it may reach stdout or the cache:
the command fails in one or two lines, and the next run asks again.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from flyte_iap.emulator import Emulator
from flyte_iap.errors import ProtocolError
from flyte_iap.google import Endpoints, UserClient, UserTokens
from flyte_iap.transport import HttpClient

from ..cli import Cli, assert_clean_failure
from ..stub_server import Reply, StubServer
from ..tokens import AUD, GOOGLE_ISSUER, sa_args


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(header: Any = None, raw_claims: str | None = None, **claims: Any) -> str:
    """A JWT with a dummy signature: the tool does not verify signatures, IAP does."""
    header = {"alg": "RS256", "kid": "k", "typ": "JWT"} if header is None else header
    body = {"iss": GOOGLE_ISSUER, "aud": AUD, "exp": int(time.time()) + 3600, **claims}
    payload = raw_claims if raw_claims is not None else json.dumps(body)
    return f"{b64(json.dumps(header).encode())}.{b64(payload.encode())}.{b64(b'signature')}"


GOOD_EXP = int(time.time()) + 3600
NOT_A_JWT = "returned something that is not a JWT (three base64url parts, no spaces)"
NOT_USABLE = "returned an ID token that is not usable: "
#: Each forged token, and the words of its refusal.
FORGED = {
    "expired": (jwt(exp=int(time.time()) - 60), NOT_USABLE + "it has already expired"),
    "wrong-issuer": (
        jwt(iss="https://evil.example"),
        NOT_USABLE + "iss is 'https://evil.example', not Google",
    ),
    "alg-none": (jwt(header={"alg": "none"})[: -len(b64(b"signature"))], NOT_A_JWT),
    "alg-none-with-signature": (
        jwt(header={"alg": "none"}),
        NOT_USABLE + "its alg is 'none', not RS256",
    ),
    "alg-hs256": (jwt(header={"alg": "HS256"}), NOT_USABLE + "its alg is 'HS256', not RS256"),
    "aud-list": (jwt(aud=[AUD, "other"]), NOT_USABLE + f'aud is "{[AUD, "other"]}", not {AUD}'),
    "exp-infinite": (
        jwt(raw_claims=f'{{"iss": "{GOOGLE_ISSUER}", "aud": "{AUD}", "exp": 1e400}}'),
        NOT_USABLE + "it has no usable exp",
    ),
    "exp-string": (jwt(exp=str(GOOD_EXP)), NOT_USABLE + "it has no usable exp"),
    "exp-far-away": (
        jwt(exp=int(time.time()) + 10 * 365 * 86400),
        NOT_USABLE + "its exp is more than a day away",
    ),
    "newline": (jwt().replace(".", ".\n", 1), NOT_A_JWT),
    "space": (jwt() + " second-line", NOT_A_JWT),
    "two-parts": (".".join(jwt().split(".")[:2]), NOT_A_JWT),
    "nested-payload": (
        jwt(raw_claims="[" * 20_000 + "]" * 20_000),
        "returned something that is not a JWT",
    ),
    "html": ("<html>captive portal</html>", NOT_A_JWT),
}


@pytest.fixture
def stub_key(tmp_path: Path, emulator: Emulator) -> tuple[Path, StubServer]:
    """A real key file whose token_uri is the scripted server (started by the test)."""
    stub = StubServer(Reply.json({"id_token": "replaced"}), lifetime=60)
    key = emulator.write_service_account_key(tmp_path / "key.json")
    info = json.loads(key.read_text())
    info["token_uri"] = f"{stub.url}/token"
    forged_key = tmp_path / "stub-key.json"
    forged_key.write_text(json.dumps(info))
    return forged_key, stub


@pytest.mark.parametrize("kind", sorted(FORGED))
def test_the_service_account_flow_prints_no_bad_id_token(
    cli: Cli, stub_key: tuple[Path, StubServer], kind: str
) -> None:
    key, stub = stub_key
    token, refusal = FORGED[kind]
    stub.replies = [Reply.json({"id_token": token})]
    with stub:
        result = cli(*sa_args(key=key))
        assert_clean_failure(result, f"flyte-iap: key file {key} returned", refusal)
        assert list(cli.cache_dir.glob("sa_*.json")) == []
        again = cli(*sa_args(key=key))
        assert (again.returncode, again.stderr) == (result.returncode, result.stderr)
        assert len(stub.requests) == 2  # nothing was cached: the second run asked again


def test_the_service_account_flow_prints_a_good_token(
    cli: Cli, stub_key: tuple[Path, StubServer]
) -> None:
    """The control: the same server with a well-formed token is believed."""
    key, stub = stub_key
    good = jwt(email="ci@p.iam.gserviceaccount.com")
    stub.replies = [Reply.json({"id_token": good})]
    with stub:
        assert cli(*sa_args(key=key)).token == good


# --- a person's code exchange ----------------------------------------------------------------
DESKTOP = "desk.apps.googleusercontent.com"


def exchange(token: str) -> UserTokens:
    with StubServer(Reply.json({"id_token": token, "refresh_token": "r"})) as stub:
        env = {"FLYTE_IAP_TOKEN_URI": f"{stub.url}/token"}
        client = UserClient(DESKTOP, AUD, Endpoints.from_env(env), HttpClient(tries=1))
        return client.exchange_code(
            "code", "verifier", "http://127.0.0.1:1/", "secret", "the-nonce"
        )


NOT_THIS_LOGIN = "its nonce does not match this login"


@pytest.mark.parametrize(
    ("kind", "token", "words"),
    [
        ("no-nonce", jwt(azp=DESKTOP), NOT_THIS_LOGIN),
        ("wrong-nonce", jwt(azp=DESKTOP, nonce="another"), NOT_THIS_LOGIN),
        ("nonce-not-a-string", jwt(azp=DESKTOP, nonce=["the-nonce"]), NOT_THIS_LOGIN),
        ("exp-infinite", jwt(raw_claims=json.dumps({"azp": DESKTOP})[:-1] + ', "exp": 1e400}'),
         "it has no usable exp"),
        ("alg-none", jwt(header={"alg": "none"}, azp=DESKTOP, nonce="the-nonce"),
         "its alg is 'none', not RS256"),
    ],
)  # fmt: skip
def test_the_code_exchange_refuses_a_token_that_is_not_this_logins(
    kind: str, token: str, words: str
) -> None:
    with pytest.raises(ProtocolError) as refused:
        exchange(token)
    assert str(refused.value).startswith("the ID token from the token endpoint is not usable: ")
    assert words in str(refused.value)


def test_the_code_exchange_takes_a_token_with_this_logins_nonce() -> None:
    token = jwt(azp=DESKTOP, nonce="the-nonce")
    tokens = exchange(token)
    assert (tokens.id_token, tokens.refresh_token) == (token, "r")
    assert tokens.claims["nonce"] == "the-nonce" and tokens.claims["azp"] == DESKTOP
