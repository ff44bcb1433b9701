"""The JWT a service-account key signs for the token endpoint, held to google-auth: its
signature verifies with the key's public certificate as google-auth verifies it, its
header is google-auth's (RS256, the key's id), and its claims are what Google expects."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from google.auth import jwt

from flyte_iap.emulator import Emulator
from flyte_iap.google import Endpoints, credentials_for
from flyte_iap.google.adc import load_credentials_file
from flyte_iap.transport import HttpClient

from ..stub_server import Reply, StubServer


def certificate_for(key_file: Path) -> bytes:
    """A self-signed certificate of the key's public key, as Google publishes one."""
    info = json.loads(key_file.read_text())
    key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, info["client_email"])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(datetime.datetime(2020, 1, 1))
        .not_valid_after(datetime.datetime(2100, 1, 1))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_assertion_verifies_with_google_auth(emulator: Emulator, tmp_path: Path) -> None:
    key_file = emulator.write_service_account_key(tmp_path / "key.json")
    info = json.loads(key_file.read_text())
    with StubServer(Reply.json({"id_token": "x.y.z"})) as token_endpoint:
        info["token_uri"] = token_endpoint.url + "/token"
        key_file.write_text(json.dumps(info))
        file = load_credentials_file(str(key_file), "--service_account_key")
        credentials = credentials_for(file, Endpoints.from_env({}), HttpClient(tries=1))
        before = int(time.time())
        assert credentials.id_token("the-audience") == "x.y.z"
        ((method, path, _, body),) = token_endpoint.requests
    assert (method, path) == ("POST", "/token")
    form = parse_qs(body.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    (assertion,) = form["assertion"]
    claims = jwt.decode(assertion, certs=certificate_for(key_file), audience=info["token_uri"])
    assert claims["iss"] == claims["sub"] == info["client_email"]
    assert claims["target_audience"] == "the-audience"
    assert before <= claims["iat"] <= claims["exp"] - 3600 <= int(time.time())
    header = jwt.decode_header(assertion)
    assert header == {"typ": "JWT", "alg": "RS256", "kid": info["private_key_id"]}


def test_the_key_loader_is_cryptographys_public_one() -> None:
    """The first fetch takes ``load_pem_private_key`` from cryptography's Rust binding to
    skip the serialization package's import; it must be the very function the public name
    is (were it not, the loader would be something cryptography does not promise)."""
    from flyte_iap.google.service_account_key import pem_loader

    assert pem_loader() is serialization.load_pem_private_key
