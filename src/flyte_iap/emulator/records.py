"""The emulator's records (keys, grants, auth requests, codes) and its checked faults."""

from __future__ import annotations

from dataclasses import dataclass
from types import UnionType
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric import rsa

#: The longest an injected fault may hold a request, in seconds: a test that needs a slow
#: answer needs a few seconds; 1e9 is a typo that would hang a handler thread forever.
MAX_FAULT_DELAY = 60.0


@dataclass
class ServiceAccountKey:
    """The public half of a key written by ``write_service_account_key``."""

    kid: str
    email: str
    public_key: rsa.RSAPublicKey
    revoked: bool = False


@dataclass
class RefreshGrant:
    """A refresh token and the person and client it was issued to."""

    email: str
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class AccessGrant:
    """An access token and whom it stands for."""

    email: str
    expires_at: float
    scope: str = ""


@dataclass
class AuthRequest:
    """A validated request to the consent page, waiting for a decision."""

    client_id: str
    redirect_uri: str
    state: str
    code_challenge: str
    nonce: str
    scope: str


@dataclass
class AuthCode:
    """An authorization code: single use, short-lived."""

    request: AuthRequest
    email: str
    expires_at: float


@dataclass
class Fault:
    """A failure to inject into the next ``remaining`` requests of an endpoint."""

    status: int
    remaining: int
    delay: float = 0.0
    body: dict[str, Any] | None = None


def checked_fault(status: object, count: object, delay: object, body: object) -> Fault:
    """A :class:`Fault` from untrusted parameters; ``ValueError`` says which one is wrong.

    Checked before a fault is queued, so a bad one is refused at once rather than
    crashing (a negative or NaN delay) or hanging (1e9 s) the request it hits later.
    """
    if not _is_number(status, int) or not (status == 0 or 200 <= status <= 599):
        raise ValueError("status must be 0 (drop the connection) or an HTTP status from 200 to 599")
    if not _is_number(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    # The chained comparison is False for NaN and the infinities too.
    if not _is_number(delay, int | float) or not 0 <= delay <= MAX_FAULT_DELAY:
        raise ValueError(f"delay must be a number of seconds from 0 to {MAX_FAULT_DELAY:g}")
    if body is not None and not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return Fault(status, count, float(delay), body)


def _is_number(value: object, kind: type[Any] | UnionType) -> TypeGuard[Any]:
    """``isinstance(value, kind)``, except that JSON's true/false are not numbers."""
    return isinstance(value, kind) and not isinstance(value, bool)
