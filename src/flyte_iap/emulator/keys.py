"""The keys the emulator signs with, and JSON Web Tokens: RSA keys with self-signed
certificates for RS256 (Google's ID tokens), a P-256 key for ES256 (IAP's signed headers)."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


class JwtError(ValueError):
    """A JWT that cannot be parsed or whose signature does not verify."""


def b64url_encode(data: bytes) -> str:
    """Base64url without padding, as JWT and PKCE use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url_encode`; tolerates missing padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SigningKey:
    """A 2048-bit RSA key with its key id and a self-signed certificate."""

    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(cls, common_name: str) -> SigningKey:
        """Make a fresh key and a one-year certificate for it."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(kid=secrets.token_hex(20), private_key=key, certificate=cert)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The public half, for verifying signatures."""
        return self.private_key.public_key()

    def private_key_pem(self) -> str:
        """PKCS#8 PEM, the form Google puts in service-account key files."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def certificate_pem(self) -> str:
        """The certificate as PEM, the form Google's v1 certs endpoint serves."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def sign_jwt(self, payload: dict[str, Any]) -> str:
        """Encode and RS256-sign ``payload`` with this key's id in the header."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_encode_part(header)}.{_encode_part(payload)}"
        signature = self.private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class Es256Key:
    """A P-256 key with its key id: how Identity-Aware Proxy signs the JWT it hands to the
    application (``alg`` ES256), published as PEM and as a JWK."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> Es256Key:
        """Make a fresh key."""
        return cls(kid=secrets.token_hex(8), private_key=ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half, for verifying signatures."""
        return self.private_key.public_key()

    def public_key_pem(self) -> str:
        """The public key as PEM (SubjectPublicKeyInfo), the form of IAP's ``public_key``."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def jwk(self) -> dict[str, str]:
        """The public key as a JSON Web Key (RFC 7518 6.2), the form of ``public_key-jwk``."""
        numbers = self.public_key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        }

    def sign_jwt(self, payload: dict[str, Any]) -> str:
        """Encode and ES256-sign ``payload`` with this key's id in the header."""
        header = {"alg": "ES256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_encode_part(header)}.{_encode_part(payload)}"
        der = self.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        # JWS carries the two integers side by side (RFC 7518 3.4), not DER.
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{b64url_encode(signature)}"


def _encode_part(part: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(part, separators=(",", ":")).encode("utf-8"))


def parse_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (header, payload) of a JWT without checking its signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("a JWT has three dot-separated parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwtError("JWT header or payload is not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JwtError("JWT header and payload must be JSON objects")
    return header, payload


def verify_signature(token: str, public_key: rsa.RSAPublicKey) -> bool:
    """True when ``token`` is RS256-signed by the private half of ``public_key``."""
    signing_input, _, signature = token.rpartition(".")
    try:
        public_key.verify(
            b64url_decode(signature),
            signing_input.encode("ascii"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True
