"""PKCE (RFC 7636) verifier and S256 challenge, and random ``state``/``nonce`` values."""

from __future__ import annotations

import base64
import hashlib
import secrets

# 32 random octets, base64url without padding: 43 characters, the length RFC 7636 §4.1
# recommends; the base64url alphabet is a subset of the "unreserved" characters it allows.
_VERIFIER_OCTETS = 32


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_verifier() -> str:
    """A fresh ``code_verifier``: 43 characters of ``[A-Za-z0-9_-]`` from :mod:`secrets`."""
    return _b64url(secrets.token_bytes(_VERIFIER_OCTETS))


def challenge_s256(verifier: str) -> str:
    """The ``code_challenge`` for ``code_challenge_method=S256``: base64url(sha256(verifier))."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def random_token() -> str:
    """An unguessable URL-safe value for ``state`` and ``nonce``."""
    return secrets.token_urlsafe(32)
