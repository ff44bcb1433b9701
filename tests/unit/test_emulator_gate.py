"""The emulator's IAP gate: IAP's verdicts and answers, against real upstream servers on
127.0.0.1 (one that echoes what reached it, one that streams its answer over time)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flyte_iap.emulator import Emulator, EmulatorConfig, GateConfigError, GateLimits
from flyte_iap.emulator.keys import SigningKey, b64url_encode, parse_jwt

from ..cli import Cli
from ..gate_upstream import (
    IAP_HEADER,
    UpstreamServer,
    assert_iap_refusal,
    bearer,
    envelope,
    seen_headers,
    serve,
)
from ..tokens import AUD, CONFIG, sa_args


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    yield from serve(UpstreamServer())


@pytest.fixture
def gate(emulator: Emulator, upstream: UpstreamServer) -> str:
    return emulator.start_gate(upstream.url)


def test_no_token_gets_iaps_401(emulator: Emulator, upstream: UpstreamServer, gate: str):
    answer = requests.get(gate + "/api/v1/version", timeout=10)
    assert_iap_refusal(answer, "empty token")
    assert upstream.seen == []
    assert emulator.gate_log == [("GET", "/api/v1/version", "refused", "empty token")]


def _unsigned(claims: dict[str, Any]) -> str:
    header = b64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url_encode(json.dumps(claims).encode())}."


def _tampered(token: str) -> str:
    head, _, rest = token.partition(".")
    _, claims = parse_jwt(token)
    claims["email"] = "mallory@example.com"
    forged = b64url_encode(json.dumps(claims).encode())
    return f"{head}.{forged}.{rest.partition('.')[2]}"


def _other_key(emu: Emulator) -> str:
    _, claims = parse_jwt(emu.mint_id_token())
    return SigningKey.generate("not-google").sign_jwt(claims)


AUDIENCE = (
    "JWT audience doesn't match this application ('aud' claim (the-desktop-client) doesn't "
    f"match expected value ({AUD}))"
)
BAD_TOKENS = {
    "garbage": (lambda emu: "not-a-jwt", "Unable to parse JWT"),
    "another key": (_other_key, "JWT signature is invalid"),
    "unsigned": (lambda emu: _unsigned(parse_jwt(emu.mint_id_token())[1]), None),
    "tampered": (lambda emu: _tampered(emu.mint_id_token()), "JWT signature is invalid"),
    "expired": (lambda emu: emu.mint_id_token(exp=int(time.time()) - 5), "Expired JWT"),
    "wrong audience": (lambda emu: emu.mint_id_token(aud="the-desktop-client"), AUDIENCE),
    "wrong issuer": (lambda emu: emu.mint_id_token(iss="https://evil.example"), None),
    "no email": (lambda emu: emu.mint_id_token(email=None), "JWT 'email' claim isn't a string"),
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_a_bad_token_gets_iaps_401_naming_what_is_wrong(
    emulator: Emulator, upstream: UpstreamServer, gate: str, kind: str
):
    make, reason = BAD_TOKENS[kind]
    answer = requests.get(gate + "/x", headers=bearer(make(emulator)), timeout=10)
    expected = {
        "unsigned": "JWT signature is invalid",
        "wrong issuer": "JWT issuer is invalid ('iss' claim (https://evil.example) doesn't "
        "match expected value (https://accounts.google.com))",
    }.get(kind, reason)
    assert expected is not None
    assert_iap_refusal(answer, expected)
    assert upstream.seen == []
    assert emulator.gate_log[-1] == ("GET", "/x", "refused", expected)


def test_a_token_expired_by_the_clock_is_refused(upstream: UpstreamServer):
    now = [float(int(time.time()))]  # the emulator's clock, moved on by the test
    with Emulator(EmulatorConfig(token_lifetime=60), clock=lambda: now[0]) as emu:
        gate_url = emu.start_gate(upstream.url)
        token = emu.mint_id_token()
        assert parse_jwt(token)[1]["exp"] == now[0] + 60
        now[0] += 59
        assert requests.get(gate_url, headers=bearer(token), timeout=10).status_code == 200
        now[0] += 1  # at exp: expired, as IAP has it
        assert_iap_refusal(requests.get(gate_url, headers=bearer(token), timeout=10), "Expired JWT")
        assert len(upstream.seen) == 1


def test_a_token_from_the_cli_reaches_the_upstream_as_iap_passes_it(
    emulator: Emulator, upstream: UpstreamServer, gate: str, home: Path, cli: Cli
):
    key = emulator.write_service_account_key(home / "key.json")
    token = cli(*sa_args(key=key)).token
    headers = {
        **bearer(token),
        "Authorization": "Basic the-apps-own",  # IAP leaves it to the application
        "X-Goog-Authenticated-User-Email": "accounts.google.com:admin@example.com",  # spoofed
        "Content-Type": "application/proto",
        "Connect-Protocol-Version": "1",
    }
    answer = requests.post(gate + "/flyteidl2.Svc/Get?x=1", data=b"\x0a\x02hi", headers=headers)
    assert answer.status_code == 200
    assert IAP_HEADER not in answer.headers
    seen = seen_headers(upstream)
    assert "proxy-authorization" not in seen
    assert seen["authorization"] == "Basic the-apps-own"
    email = CONFIG.service_account_email
    assert seen["x-goog-authenticated-user-email"] == f"accounts.google.com:{email}"
    assert seen["x-goog-authenticated-user-id"].startswith("accounts.google.com:1")
    gate_host = urllib.parse.urlsplit(gate).netloc
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == seen["host"] == gate_host
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["connect-protocol-version"] == "1"
    assert upstream.seen[-1]["path"] == "/flyteidl2.Svc/Get?x=1"
    assert upstream.seen[-1]["sha256"] == hashlib.sha256(b"\x0a\x02hi").hexdigest()
    ((method, path, verdict, claims),) = emulator.gate_log
    assert (method, path, verdict, claims["email"]) == (
        "POST",
        "/flyteidl2.Svc/Get",
        "allowed",
        email,
    )


# --- where the token is: IAP's documented rule (gate.admit) ----------------------------------
def _for(emu: Emulator, email: str) -> str:
    return emu.mint_id_token(email=email)


def test_authorization_serves_when_there_is_no_proxy_authorization(
    emulator: Emulator, upstream: UpstreamServer, gate: str
):
    """The Flyte 2 SDK's ExternalCommand sends ``authorization: Bearer``: IAP takes it, and
    the application never sees it."""
    token = _for(emulator, "sdk@example.com")
    answer = requests.get(gate + "/x", headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200
    seen = seen_headers(upstream)
    assert "authorization" not in seen and "proxy-authorization" not in seen
    assert seen["x-goog-authenticated-user-email"] == "accounts.google.com:sdk@example.com"
    assert emulator.gate_log[-1].detail["email"] == "sdk@example.com"  # type: ignore[index]


def test_proxy_authorization_wins_and_authorization_goes_to_the_app(
    emulator: Emulator, upstream: UpstreamServer, gate: str
):
    proxy_token, app_token = _for(emulator, "proxy@example.com"), _for(emulator, "app@example.com")
    headers = {**bearer(proxy_token), "Authorization": f"Bearer {app_token}"}
    assert requests.get(gate + "/x", headers=headers, timeout=10).status_code == 200
    seen = seen_headers(upstream)
    assert seen["x-goog-authenticated-user-email"] == "accounts.google.com:proxy@example.com"
    assert seen["authorization"] == f"Bearer {app_token}"  # unprocessed, the app's own
    assert "proxy-authorization" not in seen


@pytest.mark.parametrize("proxy_value", ["Bearer not-a-jwt", "Basic dXNlcjpwdw==", ""])
def test_without_a_valid_token_in_proxy_authorization_iap_goes_on_to_authorization(
    emulator: Emulator, upstream: UpstreamServer, gate: str, proxy_value: str
):
    token = _for(emulator, "fallback@example.com")
    headers = {"Proxy-Authorization": proxy_value, "Authorization": f"Bearer {token}"}
    assert requests.get(gate + "/x", headers=headers, timeout=10).status_code == 200
    seen = seen_headers(upstream)
    assert seen["x-goog-authenticated-user-email"] == "accounts.google.com:fallback@example.com"
    assert "proxy-authorization" not in seen and "authorization" not in seen


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Proxy-Authorization": "Bearer not-a-jwt"}, "Unable to parse JWT"),
        ({"Authorization": "Bearer not-a-jwt"}, "Unable to parse JWT"),
        (
            {"Proxy-Authorization": "Bearer not-a-jwt", "Authorization": "Bearer"},
            "Unable to parse JWT",
        ),
        ({"Proxy-Authorization": "Basic x", "Authorization": "Basic y"}, "empty token"),
    ],
    ids=["proxy only", "authorization only", "no second bearer", "no bearer at all"],
)
def test_a_refusal_names_the_last_token_judged(
    emulator: Emulator, upstream: UpstreamServer, gate: str, headers: dict[str, str], reason: str
):
    assert_iap_refusal(requests.get(gate + "/x", headers=headers, timeout=10), reason)
    assert upstream.seen == []


def test_both_tokens_bad_names_authorizations_fault(
    emulator: Emulator, upstream: UpstreamServer, gate: str
):
    expired = emulator.mint_id_token(exp=int(time.time()) - 5)
    headers = {"Proxy-Authorization": "Bearer not-a-jwt", "Authorization": f"Bearer {expired}"}
    assert_iap_refusal(requests.get(gate + "/x", headers=headers, timeout=10), "Expired JWT")


def test_only_iap_sets_the_identity_headers(
    emulator: Emulator, upstream: UpstreamServer, gate: str
):
    """IAP strips every x-goog-* header a client sends: a forged assertion or identity never
    reaches the application beside (or instead of) IAP's own."""
    spoofed = {
        "X-Goog-IAP-JWT-Assertion": "forged.assertion.value",
        "X-Goog-Authenticated-User-Email": "accounts.google.com:admin@example.com",
        "X-Goog-Authenticated-User-ID": "accounts.google.com:1",
        "x-goog-anything-else": "1",
        # Look-alikes a CGI or WSGI server reads as IAP's own (both - and _ become _).
        "X_Goog_Authenticated_User_Email": "accounts.google.com:admin@example.com",
        "X-Goog_IAP_JWT-Assertion": "forged.assertion.value",
        "X_Forwarded_For": "10.0.0.1",
    }
    token = emulator.mint_id_token()
    answer = requests.get(gate + "/x", headers={**spoofed, **bearer(token)}, timeout=10)
    assert answer.status_code == 200
    headers = upstream.seen[-1]["headers"]
    goog = sorted(name for name, _ in headers if name.replace("_", "-").startswith("x-goog-"))
    forwarded = [v for name, v in headers if name.replace("_", "-") == "x-forwarded-for"]
    assert forwarded == ["127.0.0.1"]  # the gate's own, the look-alike dropped
    assert goog == [
        "x-goog-authenticated-user-email",
        "x-goog-authenticated-user-id",
        "x-goog-iap-jwt-assertion",
    ]
    seen = dict(headers)
    assert seen["x-goog-authenticated-user-email"] == f"accounts.google.com:{CONFIG.user_email}"
    assert seen["x-goog-iap-jwt-assertion"] != spoofed["X-Goog-IAP-JWT-Assertion"]
    assert parse_jwt(seen["x-goog-iap-jwt-assertion"])[1]["email"] == CONFIG.user_email


@pytest.mark.parametrize("name", ["Proxy-Authorization", "Authorization"])
def test_two_credentials_of_one_kind_are_refused(
    emulator: Emulator, upstream: UpstreamServer, gate: str, name: str
) -> None:
    """With two, the token judged and the token the application reads could differ."""
    good, forged = emulator.mint_id_token(), emulator.mint_id_token(email="admin@example.com")
    request = (
        f"GET /x HTTP/1.1\r\nHost: gate\r\n{name}: Bearer {good}\r\n"
        f"{name}: Bearer {forged}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = _raw(gate, request)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert f"More than one {name} header".encode() in answer
    assert upstream.seen == []


def test_a_claim_cannot_inject_a_header_upstream(
    emulator: Emulator, upstream: UpstreamServer, gate: str
):
    token = emulator.mint_id_token(email="ada@example.com\r\nX-Injected: 1")
    assert requests.get(gate, headers=bearer(token), timeout=10).status_code == 200
    seen = seen_headers(upstream)
    assert "x-injected" not in seen
    assert (
        seen["x-goog-authenticated-user-email"]
        == "accounts.google.com:ada@example.com??X-Injected: 1"
    )


def test_gate_with_another_audience_refuses_the_webapps_tokens(
    emulator: Emulator, upstream: UpstreamServer
):
    gate_url = emulator.start_gate(upstream.url, audience="other-webapp")
    answer = requests.get(gate_url, headers=bearer(emulator.mint_id_token()), timeout=10)
    assert_iap_refusal(
        answer,
        f"JWT audience doesn't match this application ('aud' claim ({AUD}) doesn't match "
        "expected value (other-webapp))",
    )


def test_unchecked_gate_lets_everything_through(emulator: Emulator, upstream: UpstreamServer):
    gate_url = emulator.start_gate(upstream.url, check=False)
    answer = requests.get(gate_url + "/api/v1/version", timeout=10)
    assert answer.status_code == 200
    assert IAP_HEADER not in answer.headers
    assert "x-goog-authenticated-user-email" not in seen_headers(upstream)
    assert emulator.gate_log == [("GET", "/api/v1/version", "unchecked", "")]


# --- streaming and connections ------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_megabytes_streams_through(
    emulator: Emulator, upstream: UpstreamServer, gate: str, chunked: bool
):
    body = os.urandom(5 * 1024 * 1024)
    pieces = (body[i : i + 256 * 1024] for i in range(0, len(body), 256 * 1024))
    data: Any = pieces if chunked else body
    token = emulator.mint_id_token()
    answer = requests.put(gate + "/upload", data=data, headers=bearer(token), timeout=30)
    assert answer.status_code == 200
    assert answer.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert answer.json()["chunked"] is chunked


@pytest.mark.timeout(10)  # a gate that held the answer back would wait here for ever
@pytest.mark.parametrize("mode", ["chunked", "length"])
def test_a_streaming_answer_flows_as_it_comes(
    emulator: Emulator, upstream: UpstreamServer, gate: str, mode: str
):
    """The upstream sends its second message only once the first has reached the client
    through the gate: a gate that waited for the whole answer would never pass it on."""
    port = urllib.parse.urlsplit(gate).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", f"/stream/{mode}", body=b"{}", headers=bearer(emulator.mint_id_token()))
    answer = conn.getresponse()
    first = answer.read1(65536)
    upstream.go_on.set()
    rest = answer.read()
    conn.close()
    assert answer.status == 200
    assert answer.getheader("Content-Type") == "application/connect+json"
    assert first == envelope(0, {"n": 1})
    assert rest == envelope(0, {"n": 2}) + envelope(2, {})


def test_two_requests_share_one_connection(emulator: Emulator, upstream: UpstreamServer, gate: str):
    conn = http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(gate).port, timeout=10)
    conn.request("POST", "/one", body=b"refused, and read", headers={"Content-Type": "text/plain"})
    refused = conn.getresponse()
    assert (refused.status, refused.getheader("Connection")) == (401, "keep-alive")
    refused.read()
    sock = conn.sock
    for path in ("/two", "/three"):
        conn.request("GET", path, headers=bearer(emulator.mint_id_token()))
        answer = conn.getresponse()
        assert answer.status == 200
        answer.read()
        assert conn.sock is sock  # http.client reconnects when the server closes
    conn.close()
    assert [seen["path"] for seen in upstream.seen] == ["/two", "/three"]


def test_upstream_down_is_a_502_not_iaps_answer(emulator: Emulator):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    gate_url = emulator.start_gate(dead)
    answer = requests.get(gate_url, headers=bearer(emulator.mint_id_token()), timeout=10)
    assert answer.status_code == 502
    assert IAP_HEADER not in answer.headers
    assert dead in answer.text and len(answer.text) < 200
    refused = requests.get(gate_url, timeout=10)  # IAP still answers first
    assert refused.status_code == 401


def test_the_gate_stops_with_the_emulator(upstream: UpstreamServer):
    with Emulator(iap_upstream=upstream.url) as emu:
        gate_url = emu.gate_url
        assert emu.env()["FLYTE_IAP_GATE_URL"] == gate_url
        assert requests.get(gate_url, headers=bearer(emu.mint_id_token()), timeout=10).ok
    with pytest.raises(requests.ConnectionError):
        requests.get(gate_url, timeout=5)


def test_gate_refuses_what_it_cannot_serve(emulator: Emulator, upstream: UpstreamServer):
    for url in ("https://127.0.0.1:1", "http://user:pw@127.0.0.1:1", "ftp://x", "http://h:x"):
        with pytest.raises(GateConfigError):
            emulator.start_gate(url)
    emulator.start_gate(upstream.url)
    with pytest.raises(RuntimeError, match="already serves"):
        emulator.start_gate(upstream.url)


# --- bounds and framing -------------------------------------------------------------------
def _raw(gate_url: str, data: bytes, *, wait: float = 10) -> bytes:
    """Send ``data`` on a fresh connection; everything the gate answers until it closes."""
    with socket.create_connection(("127.0.0.1", urllib.parse.urlsplit(gate_url).port)) as sock:
        sock.settimeout(wait)
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_head_sent_too_slowly_is_cut_off(emulator: Emulator, upstream: UpstreamServer):
    gate_url = emulator.start_gate(upstream.url, limits=GateLimits(head_seconds=0.3))
    port = urllib.parse.urlsplit(gate_url).port
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)  # a hang guard: without the head's 0.3 s, the gate waits 30 s
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408 ")  # said only when the head's deadline passed
    assert IAP_HEADER.encode() not in answer.lower()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            b"400",
        ),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\nX-B: 2\r\n\r\n", b"400"),
        (b"GET http://elsewhere/ HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"505"),
    ],
    ids=["huge head", "smuggling", "bare LF", "absolute form", "tab in target", "HTTP/2"],
)
def test_malformed_requests_are_refused_before_the_token(
    emulator: Emulator, upstream: UpstreamServer, gate: str, request_bytes: bytes, status: bytes
):
    answer = _raw(gate, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:100]
    assert upstream.seen == [] and emulator.gate_log == []


def test_head_requests_and_interim_answers(emulator: Emulator, upstream: UpstreamServer, gate: str):
    token = emulator.mint_id_token()
    head = requests.head(gate + "/h", headers=bearer(token), timeout=10)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) > 0
    expect = {**bearer(token), "Expect": "100-continue", "Content-Type": "text/plain"}
    posted = requests.post(gate + "/p", data=b"x" * 1000, headers=expect, timeout=10)
    assert posted.json()["length"] == 1000
