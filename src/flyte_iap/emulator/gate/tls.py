"""HTTPS for the gate: a throwaway certificate authority of the emulator's own, and a
server certificate it issues for this machine's loopback names.

The Flyte 2 SDK runs an ``ExternalCommand`` for its token only over TLS, and trusts a
private CA through ``admin.caCertFilePath``: so the CA certificate is what a client gets,
and its key lives only in memory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The names the server certificate is valid for: the gate listens on 127.0.0.1.
DNS_NAMES = ("localhost",)
IP_ADDRESSES = ("127.0.0.1", "::1")
_VALID_DAYS = 30


@dataclass(frozen=True)
class GateCertificates:
    """The CA certificate (``ca_pem``, for clients to trust) and the server's certificate
    and key it signed (for :meth:`server_context`)."""

    ca_pem: str
    server_pem: str
    server_key_pem: str = field(repr=False)

    @classmethod
    def generate(cls) -> GateCertificates:
        """A new CA and a server certificate for ``localhost``, 127.0.0.1 and ::1."""
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("flyte-iap emulator IAP gate CA")
        ca = (
            _builder(ca_name, ca_name, ca_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in DNS_NAMES]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in IP_ADDRESSES]
        server = (
            _builder(_name("localhost"), ca_name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        return cls(_pem(ca), _pem(server), key_pem)

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2+ server context with the server certificate, offering HTTP/1.1 only
        (ALPN), so an HTTP/2 client learns at once that it is not served."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        # ssl loads a certificate and key from files only: a private directory, for a moment.
        with tempfile.TemporaryDirectory(prefix="flyte-iap-gate-") as directory:
            chain = Path(directory) / "server.pem"
            fd = os.open(chain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(self.server_pem + self.server_key_pem)
            context.load_cert_chain(chain)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
