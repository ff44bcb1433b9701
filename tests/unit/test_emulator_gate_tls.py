"""The IAP gate over HTTPS: a certificate from the emulator's own CA, whose certificate it
writes for clients to trust, and every bound of the gate kept over TLS (the handshake
too)."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import ssl
import stat
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from flyte_iap.emulator import Emulator, GateLimits

from ..gate_upstream import (
    IAP_HEADER,
    UpstreamServer,
    assert_iap_refusal,
    bearer,
    envelope,
    seen_headers,
    serve,
)


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    yield from serve(UpstreamServer())


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


def port_of(url: str) -> int:
    port = urllib.parse.urlsplit(url).port
    assert port is not None
    return port


def trusting(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts only the gate's CA (hostnames checked)."""
    return ssl.create_default_context(cafile=str(ca_file))


def client_hello() -> bytes:
    """The first flight of a real TLS client: what a handshake starts with."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


# --- trust ------------------------------------------------------------------------------------
def test_a_client_that_trusts_the_written_ca_gets_through(
    upstream: UpstreamServer, state_dir: Path
):
    with Emulator(state_dir=state_dir) as emu:
        gate_url = emu.start_gate(upstream.url, tls=True)
        ca_file = emu.gate_ca_file
        assert gate_url == f"https://127.0.0.1:{port_of(gate_url)}"
        assert ca_file == state_dir / "iap-gate-ca.pem"
        assert emu.env()["FLYTE_IAP_GATE_URL"] == gate_url
        assert emu.env()["FLYTE_IAP_GATE_CA_FILE"] == str(ca_file)
        for host in ("127.0.0.1", "localhost"):
            url = gate_url.replace("127.0.0.1", host)
            refused = requests.get(url + "/x", verify=str(ca_file), timeout=10)
            assert_iap_refusal(refused, "empty token")
            token = emu.mint_id_token()
            allowed = requests.get(url + "/x", headers=bearer(token), verify=str(ca_file))
            assert allowed.status_code == 200
            assert seen_headers(upstream)["x-forwarded-proto"] == "https"
            assert seen_headers(upstream)["x-forwarded-host"] == f"{host}:{port_of(gate_url)}"
    # Only the CA's certificate is written, readable by all, writable by its owner alone;
    # no key ever reaches the disk.
    assert [p.name for p in state_dir.iterdir()] == ["iap-gate-ca.pem"]
    mode = stat.S_IMODE(ca_file.stat().st_mode)
    assert mode & 0o600 == 0o600 and mode & 0o022 == 0
    text = ca_file.read_text()
    assert text.count("BEGIN CERTIFICATE") == 1 and "PRIVATE" not in text
    ca = x509.load_pem_x509_certificate(text.encode())
    assert ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca


def test_the_certificate_names_every_loopback_name(emulator: Emulator, upstream: UpstreamServer):
    gate_url = emulator.start_gate(upstream.url, tls=True)
    context = trusting(emulator.gate_ca_file)
    with (
        socket.create_connection(("127.0.0.1", port_of(gate_url)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert tls.selected_alpn_protocol() in (None, "http/1.1")
    assert der is not None
    names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert names.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1",
        "::1",
    ]


def test_a_client_that_does_not_trust_the_ca_fails_verification(
    emulator: Emulator, upstream: UpstreamServer
):
    gate_url = emulator.start_gate(upstream.url, tls=True)
    token = emulator.mint_id_token()
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(gate_url + "/x", headers=bearer(token), timeout=10)
    with (
        socket.create_connection(("127.0.0.1", port_of(gate_url)), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
    assert emulator.gate_log == [] and upstream.seen == []


def test_plain_http_to_the_tls_port_gets_no_http_answer(
    emulator: Emulator, upstream: UpstreamServer
):
    gate_url = emulator.start_gate(upstream.url, tls=True)
    with socket.create_connection(("127.0.0.1", port_of(gate_url)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/")
    assert emulator.gate_log == [] and upstream.seen == []


def test_without_tls_there_is_no_ca(emulator: Emulator, upstream: UpstreamServer):
    gate_url = emulator.start_gate(upstream.url)
    assert gate_url.startswith("http://") and "FLYTE_IAP_GATE_CA_FILE" not in emulator.env()
    with pytest.raises(RuntimeError, match="HTTPS"):
        _ = emulator.gate_ca_file


def test_an_emulator_made_with_iap_tls_serves_https_and_cleans_up(upstream: UpstreamServer):
    with Emulator(iap_upstream=upstream.url, iap_tls=True) as emu:
        ca_file = emu.gate_ca_file
        assert emu.gate_url.startswith("https://")
        answer = requests.get(emu.gate_url, headers=bearer(emu.mint_id_token()), verify=ca_file)
        assert answer.status_code == 200
    assert not ca_file.exists() and not ca_file.parent.exists()  # its own temporary directory


# --- the bounds, over TLS --------------------------------------------------------------------
@pytest.mark.timeout(30)
@pytest.mark.parametrize("client", ["silent", "dripping"])
def test_a_handshake_that_never_completes_is_cut_off(
    emulator: Emulator, upstream: UpstreamServer, client: str
):
    """One deadline for the whole handshake: a client that sends its hello a byte every
    0.1 s (each read well within any per-read timeout) is cut off all the same."""
    limits = GateLimits(handshake_seconds=0.5)
    gate_url = emulator.start_gate(upstream.url, tls=True, limits=limits)
    hello = client_hello() if client == "dripping" else b""
    started, closed = time.monotonic(), False
    with socket.create_connection(("127.0.0.1", port_of(gate_url)), timeout=10) as sock:
        for byte in [*hello, None] if hello else [None]:
            try:
                if byte is not None:
                    sock.sendall(bytes([byte]))
                    sock.settimeout(0.1)  # the pace of the drip: waits for the gate's close
                else:
                    sock.settimeout(10)  # a hang guard: the gate closes well before
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            if closed:
                break
    assert closed
    assert time.monotonic() - started < 5  # the drip alone would take over 30 s
    assert emulator.gate_log == []


def test_a_head_sent_too_slowly_is_cut_off_over_tls(emulator: Emulator, upstream: UpstreamServer):
    gate_url = emulator.start_gate(upstream.url, tls=True, limits=GateLimits(head_seconds=0.3))
    context = trusting(emulator.gate_ca_file)
    with (
        socket.create_connection(("127.0.0.1", port_of(gate_url)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = tls.recv(65536)  # hang guard: 5 s, where the gate waits 0.3 s
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert IAP_HEADER.encode() not in answer.lower()


def test_connections_stay_bounded_over_tls(emulator: Emulator, upstream: UpstreamServer):
    gate_url = emulator.start_gate(upstream.url, tls=True, limits=GateLimits(max_connections=1))
    context = trusting(emulator.gate_ca_file)
    holder = http.client.HTTPSConnection("localhost", port_of(gate_url), context=context)
    holder.request("GET", "/held")
    held = holder.getresponse()
    assert (held.status, held.getheader("Connection")) == (401, "keep-alive")
    held.read()  # the connection stays open, and holds the one slot
    try:
        with (
            socket.create_connection(("127.0.0.1", port_of(gate_url)), timeout=10) as raw,
            pytest.raises((ssl.SSLError, ConnectionResetError)),
        ):
            context.wrap_socket(raw, server_hostname="localhost")
    finally:
        holder.close()


# --- what passes, over TLS ---------------------------------------------------------------------
def test_a_body_of_megabytes_streams_through_tls(emulator: Emulator, upstream: UpstreamServer):
    gate_url = emulator.start_gate(upstream.url, tls=True)
    body = os.urandom(5 * 1024 * 1024)
    pieces = (body[i : i + 256 * 1024] for i in range(0, len(body), 256 * 1024))
    answer = requests.put(
        gate_url + "/upload",
        data=pieces,
        headers=bearer(emulator.mint_id_token()),
        verify=str(emulator.gate_ca_file),
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.json()["sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.timeout(10)  # a gate that held the answer back would wait here for ever
def test_a_streaming_answer_flows_as_it_comes_over_tls(
    emulator: Emulator, upstream: UpstreamServer
):
    gate_url = emulator.start_gate(upstream.url, tls=True)
    context = trusting(emulator.gate_ca_file)
    conn = http.client.HTTPSConnection("localhost", port_of(gate_url), timeout=30, context=context)
    conn.request("POST", "/stream/chunked", body=b"{}", headers=bearer(emulator.mint_id_token()))
    answer = conn.getresponse()
    first = answer.read1(65536)
    upstream.go_on.set()
    rest = answer.read()
    conn.close()
    assert first == envelope(0, {"n": 1})
    assert rest == envelope(0, {"n": 2}) + envelope(2, {})


def test_stopping_cuts_open_tls_connections(upstream: UpstreamServer):
    with Emulator() as emu:
        gate_url = emu.start_gate(upstream.url, tls=True)
        context = trusting(emu.gate_ca_file)
        raw = socket.create_connection(("127.0.0.1", port_of(gate_url)), timeout=10)
        tls = context.wrap_socket(raw, server_hostname="localhost")
        emu.stop_gate()
        try:
            assert tls.recv(1) == b""  # hang guard: 10 s; the gate would idle 30 s
        except (ConnectionResetError, ssl.SSLError):
            pass
        finally:
            tls.close()
