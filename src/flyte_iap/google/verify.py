"""Verifying an ID token as IAP would: signature against Google's certs, issuer,
audience, expiry. One verdict per check, so a person (``decode --verify``) and the
``doctor`` see every problem at once, not only the first.

The certs come through our own HTTP stack (deadlines, retries, bodies capped), in
either of Google's formats: ``{kid: x509 PEM}`` (``/oauth2/v1/certs``, the default) or
a JWK set ``{"keys": [{kid, kty, n, e}]}`` (``/oauth2/v3/certs``). The RS256 check
itself is google-auth's (``google.auth.crypt``).
"""

from __future__ import annotations

import base64
import datetime
import math
from dataclasses import dataclass
from typing import Any, TypeGuard

from flyte_iap.errors import FlyteIapError, ProtocolError, shown
from flyte_iap.google.claims import GOOGLE_ISSUERS, decode_parts

TYPE_CHECKING = False
if TYPE_CHECKING:  # the HTTP stack loads only to fetch certs: `decode` alone needs none
    from flyte_iap.transport import HttpClient

#: Seconds a token may be past its ``exp`` (or before its ``iat``/``nbf``) and still
#: pass: clocks drift. google-auth allows none by default; a minute keeps a verdict
#: from flapping on a machine a little behind, and is far below a token's hour.
CLOCK_SKEW = 60
#: A certs answer with more keys than this is not Google's (it serves two or three).
MAX_KEYS = 50
#: The largest RSA key accepted: Google's are 2048 bits; a huge one only costs time.
MAX_KEY_BITS = 8192
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Verdict:
    """One check: its ``name`` ("signature"), whether it passed, and why (safe to print)."""

    name: str
    ok: bool
    detail: str


def verify_id_token(
    token: str, audience: str, certs_uri: str, http: HttpClient, now: float
) -> list[Verdict]:
    """The verdicts on ``token`` for ``audience`` at ``now``: signature, issuer, audience,
    expiry, in that order. A ProtocolError if ``token`` is not a JWT at all; a certs
    endpoint that cannot be read is a failed signature verdict, not an exception."""
    header, claims = decode_parts(token, "the token")
    return [
        _signature(token, header, certs_uri, http),
        _issuer(claims),
        _audience(claims, audience),
        _expiry(claims, now),
    ]


def fetch_certs(certs_uri: str, http: HttpClient) -> dict[str, Any]:
    """``{kid: google.auth.crypt.Verifier}`` from the certs endpoint; a FlyteIapError
    when it cannot be read or holds no usable key."""
    from flyte_iap.transport import raise_for_error

    what = "Google's certs endpoint"
    response = http.request("GET", certs_uri, what=what)
    raise_for_error(response, f"reading {what} ({shown(certs_uri)})")
    body = response.json_object(what)
    keys = body.get("keys")
    entries = keys if isinstance(keys, list) else [{"kid": k, "pem": v} for k, v in body.items()]
    verifiers: dict[str, Any] = {}
    for entry in entries[:MAX_KEYS]:
        kid = entry.get("kid") if isinstance(entry, dict) else None
        verifier = _verifier(entry) if isinstance(kid, str) else None
        if isinstance(kid, str) and verifier is not None:
            verifiers[kid] = verifier
    if not verifiers:
        raise ProtocolError(f"{what} at {shown(certs_uri)} answered with no usable RSA key")
    return verifiers


def _verifier(entry: dict[str, Any]) -> Any:
    """google-auth's verifier for one RSA key (a PEM certificate or public key, or a JWK);
    None for anything else (another key type, a key of an unlikely size, not a key)."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
    from google.auth.crypt import RSAVerifier

    key: object = None
    try:
        pem = entry.get("pem")
        if isinstance(pem, str) and "-----BEGIN CERTIFICATE-----" in pem:
            key = x509.load_pem_x509_certificate(pem.encode("ascii")).public_key()
        elif isinstance(pem, str):
            key = serialization.load_pem_public_key(pem.encode("ascii"))
        elif entry.get("kty") == "RSA":
            n, e = (int.from_bytes(_b64url(entry.get(f)), "big") for f in ("n", "e"))
            if n.bit_length() <= MAX_KEY_BITS:
                key = RSAPublicNumbers(e, n).public_key()
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, RSAPublicKey) or not 1024 <= key.key_size <= MAX_KEY_BITS:
        return None
    return RSAVerifier(key)  # type: ignore[no-untyped-call]


def _b64url(text: object) -> bytes:
    if not isinstance(text, str) or set(text) - _BASE64URL:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(token: str, header: dict[str, Any], certs_uri: str, http: HttpClient) -> Verdict:
    alg, kid = header.get("alg"), header.get("kid")
    if alg != "RS256":
        return Verdict("signature", False, f"alg is {shown(alg, 40)!r}; Google signs with RS256")
    try:
        verifiers = fetch_certs(certs_uri, http)
    except FlyteIapError as exc:
        return Verdict("signature", False, f"not checked: {exc}")
    where = shown(certs_uri)
    if kid is not None and (not isinstance(kid, str) or kid not in verifiers):
        return Verdict(
            "signature",
            False,
            f"its key id {shown(kid, 60)!r} is not one of the {len(verifiers)} keys at "
            f"{where}: signed by another key (or one Google retired long ago)",
        )
    signed, _, signature = token.rpartition(".")
    try:
        raw = _b64url(signature)
    except ValueError:
        return Verdict("signature", False, "the signature is not base64url")
    for name in [kid] if kid is not None else list(verifiers):
        if verifiers[name].verify(signed.encode("ascii"), raw):
            return Verdict("signature", True, f"RS256, key {shown(name, 60)} from {where}")
    keys = f"key {shown(kid, 60)}" if kid is not None else "keys"
    return Verdict(
        "signature",
        False,
        f"does not match the {keys} at {where}: the token was altered, or signed by another key",
    )


def _issuer(claims: dict[str, Any]) -> Verdict:
    iss = claims.get("iss")
    if iss in GOOGLE_ISSUERS:
        return Verdict("issuer", True, str(iss))
    return Verdict("issuer", False, f"iss is {shown(iss, 80)!r}, not Google ({GOOGLE_ISSUERS[0]})")


def _audience(claims: dict[str, Any], audience: str) -> Verdict:
    aud = claims.get("aud")
    if isinstance(aud, str) and aud == audience:
        return Verdict("audience", True, shown(aud))
    detail = f"aud is {shown(aud, 80)!r}, not {shown(audience, 80)!r}"
    if isinstance(aud, str) and aud == claims.get("azp"):
        detail += " (aud is the client that asked: a token for that client, not for IAP)"
    return Verdict("audience", False, detail)


def _expiry(claims: dict[str, Any], now: float) -> Verdict:
    exp, allowance = claims.get("exp"), f"{CLOCK_SKEW} s of clock skew allowed"
    if not is_time(exp):
        return Verdict("expiry", False, "it has no usable exp (a number of seconds)")
    for name in ("iat", "nbf"):
        start = claims.get(name)
        if is_time(start) and start > now + CLOCK_SKEW:
            return Verdict(
                "expiry",
                False,
                f"its {name} is {duration(start - now)} from now: check this machine's clock",
            )
    if exp + CLOCK_SKEW <= now:
        return Verdict("expiry", False, f"expired {duration(now - exp)} ago, at {local_time(exp)}")
    if exp <= now:
        return Verdict("expiry", True, f"expired {duration(now - exp)} ago, within the {allowance}")
    return Verdict("expiry", True, f"expires in {duration(exp - now)} ({allowance})")


def is_time(value: object) -> TypeGuard[float]:
    """Whether ``value`` is a usable time claim: a finite number (one a float can hold:
    JSON has integers of 400 digits), not a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def duration(seconds: float) -> str:
    """A duration as a person says it: "40 s", "42 min", "5 h", "3 days"."""
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    if seconds < 3650 * 86400:
        return f"{seconds / 86400:.0f} days"
    return "more than 10 years"


def local_time(timestamp: float) -> str:
    """``timestamp`` in this machine's time zone, ISO 8601 with its offset; a note
    instead when it is no representable time."""
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC).astimezone()
    except (OverflowError, OSError, ValueError):
        return "not a representable time"
    return moment.isoformat(timespec="seconds")
