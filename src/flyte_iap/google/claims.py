"""Reading a JWT's claims without verifying it: the issuer just handed it to us over
TLS, and we only need ``exp``, ``aud`` and ``email`` to cache and label it."""

from __future__ import annotations

import base64
import json
from typing import Any

from flyte_iap.errors import ProtocolError


def unverified_claims(token: str, what: str) -> dict[str, Any]:
    """The payload of ``token``; a ProtocolError naming ``what`` if it is not a JWT."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise ProtocolError(f"{what} returned something that is not a JWT") from exc
    if not isinstance(claims, dict):
        raise ProtocolError(f"{what} returned a JWT whose payload is not an object")
    return claims


def check_id_token(token: str, *, audience: str, what: str) -> dict[str, Any]:
    """Claims of an ID token after checking it is for ``audience`` and has an expiry."""
    claims = unverified_claims(token, what)
    aud = claims.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise ProtocolError(f"{what} returned a token for audience {aud!r}, not {audience!r}")
    if not isinstance(claims.get("exp"), int | float):
        raise ProtocolError(f"{what} returned a token without an expiry (exp)")
    return claims
