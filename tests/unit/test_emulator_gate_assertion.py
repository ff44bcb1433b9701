"""IAP's signed header: the ``X-Goog-IAP-JWT-Assertion`` the gate hands the application,
verified as Google's own sample verifies it (google-auth, against the published keys in
both of IAP's formats) and checked claim by claim."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import google.auth.transport.requests
import pytest
import requests
from google.oauth2 import id_token

from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.emulator.keys import parse_jwt

from ..gate_upstream import UpstreamServer, bearer, seen_headers, serve
from ..tokens import CONFIG

IAP_ISSUER = "https://cloud.google.com/iap"  # as Google documents it, not read from our code
ASSERTION = "x-goog-iap-jwt-assertion"


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    yield from serve(UpstreamServer())


def assertion_for(emu: Emulator, upstream: UpstreamServer, token: str) -> str:
    """The assertion the upstream received for a request with ``token``."""
    answer = requests.get(emu.gate_url + "/x", headers=bearer(token), timeout=10)
    assert answer.status_code == 200, answer.text
    return seen_headers(upstream)[ASSERTION]


def verified(emu: Emulator, assertion: str, keys_url: str) -> dict[str, Any]:
    claims = id_token.verify_token(
        assertion,
        google.auth.transport.requests.Request(),
        audience=emu.config.signed_header_audience,
        certs_url=keys_url,
    )
    return dict(claims)


@pytest.mark.parametrize("keys", ["public_key", "public_key-jwk"])
def test_the_assertion_verifies_with_the_published_keys(
    emulator: Emulator, upstream: UpstreamServer, keys: str
):
    emulator.start_gate(upstream.url)
    token = emulator.mint_id_token()
    caller = parse_jwt(token)[1]
    url = emulator.iap_public_key_uri if keys == "public_key" else emulator.iap_jwk_uri
    assert url.endswith("/iap/verify/" + keys)  # the paths of www.gstatic.com
    claims = verified(emulator, assertion_for(emulator, upstream, token), url)
    assert claims["iss"] == IAP_ISSUER
    assert claims["aud"] == "/projects/123456789012/global/backendServices/4242424242424242424"
    assert claims["sub"] == "accounts.google.com:" + caller["sub"]
    assert claims["email"] == CONFIG.user_email
    assert claims["exp"] - claims["iat"] == 600
    assert set(claims) == {"aud", "email", "exp", "iat", "iss", "sub"}


def test_the_header_names_a_published_es256_key(emulator: Emulator, upstream: UpstreamServer):
    emulator.start_gate(upstream.url)
    header, _ = parse_jwt(assertion_for(emulator, upstream, emulator.mint_id_token()))
    assert header["alg"] == "ES256"
    (jwk,) = requests.get(emulator.iap_jwk_uri, timeout=10).json()["keys"]
    assert (jwk["kid"], jwk["kty"], jwk["crv"]) == (header["kid"], "EC", "P-256")
    pems = requests.get(emulator.iap_public_key_uri, timeout=10).json()
    assert list(pems) == [header["kid"]]
    assert pems[header["kid"]].startswith("-----BEGIN PUBLIC KEY-----")


def test_a_forged_assertion_does_not_verify(emulator: Emulator, upstream: UpstreamServer):
    emulator.start_gate(upstream.url)
    head, payload, signature = assertion_for(emulator, upstream, emulator.mint_id_token()).split(
        "."
    )
    with Emulator() as other:  # another IAP's key, same claims
        other.start_gate(upstream.url)
        foreign = assertion_for(other, upstream, other.mint_id_token())
    with pytest.raises(ValueError):
        verified(emulator, f"{head}.{payload}.{foreign.split('.')[2]}", emulator.iap_public_key_uri)
    assert signature != foreign.split(".")[2]


def test_a_service_account_and_a_hosted_domain_are_named_as_iap_names_them(
    emulator: Emulator, upstream: UpstreamServer
):
    emulator.start_gate(upstream.url)
    robot = CONFIG.service_account_email
    token = emulator.mint_id_token(email=robot, sub="1234567890", hd="example.com")
    claims = verified(
        emulator, assertion_for(emulator, upstream, token), emulator.iap_public_key_uri
    )
    assert (claims["sub"], claims["email"], claims["hd"]) == (
        "accounts.google.com:1234567890",
        robot,
        "example.com",
    )
    seen = seen_headers(upstream)
    assert seen["x-goog-authenticated-user-id"] == "accounts.google.com:1234567890"


def test_the_assertion_is_signed_by_the_emulators_clock_for_its_backend(
    upstream: UpstreamServer,
):
    now = [float(int(time.time()))]
    config = EmulatorConfig(project_number="987", backend_service_id="654")
    with Emulator(config, clock=lambda: now[0]) as emu:
        emu.start_gate(upstream.url)
        token = emu.mint_id_token()
        now[0] += 100
        _, claims = parse_jwt(assertion_for(emu, upstream, token))
    assert (claims["iat"], claims["exp"]) == (now[0], now[0] + 600)
    assert claims["aud"] == "/projects/987/global/backendServices/654"


def test_without_iap_there_is_no_assertion(emulator: Emulator, upstream: UpstreamServer):
    gate_url = emulator.start_gate(upstream.url, check=False)
    forged = {ASSERTION: "forged.assertion.value"}
    assert requests.get(gate_url + "/x", headers=forged, timeout=10).status_code == 200
    assert ASSERTION not in seen_headers(upstream)
