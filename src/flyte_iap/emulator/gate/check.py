"""Would IAP let this bearer in? The verdict on a token, in IAP's own words.

The reasons are the text IAP puts after ``Invalid IAP credentials: `` (seen in the wild:
"empty token", "Unable to parse JWT", "JWT signature is invalid", the audience sentence,
"Expired JWT", "JWT 'email' claim isn't a string"); the issuer sentence is modelled on
the audience one, since IAP's own wording for it is not on record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from flyte_iap.emulator.keys import JwtError, parse_jwt, verify_signature
from flyte_iap.emulator.tokens import GOOGLE_ISSUER

PREFIX = "Invalid IAP credentials: "
_SHOWN = 200  # how much of a claim the token chose a refusal repeats


@dataclass(frozen=True)
class Expectations:
    """What a token must be to pass: signed by one of ``keys()`` (key id → public key,
    what the certs endpoint publishes), issued by ``issuer`` for ``audience``, and not
    expired by ``clock()``."""

    keys: Callable[[], Mapping[str, rsa.RSAPublicKey]]
    audience: str
    clock: Callable[[], float]
    issuer: str = GOOGLE_ISSUER


@dataclass(frozen=True)
class Verdict:
    """The claims of a token that passes; otherwise None and IAP's ``reason``. ``via``:
    the header the token that passed came in (set by :func:`admit`)."""

    claims: dict[str, Any] | None
    reason: str = ""
    via: str = ""

    @property
    def ok(self) -> bool:
        return self.claims is not None


PROXY_AUTHORIZATION = "proxy-authorization"
AUTHORIZATION = "authorization"


def admit(
    proxy_authorization: str | None, authorization: str | None, expect: Expectations
) -> Verdict:
    """Which token IAP takes, and its verdict, as Google documents it ("Programmatic
    authentication", "Authenticate from Proxy-Authorization header"):

    - a valid ID token in ``Proxy-Authorization: Bearer`` authorizes the request, and
      ``Authorization`` then goes on to the application unprocessed (it is the
      application's own);
    - when ``Proxy-Authorization`` holds no valid ID token (none at all, another scheme, or
      one that fails), IAP goes on to the bearer in ``Authorization``;
    - ``Proxy-Authorization`` never reaches the application, and neither does
      ``Authorization`` once its token was the one used.

    The verdict names the header whose token passed (:attr:`Verdict.via`). A refusal gives
    the reason for the last token judged: ``Authorization``'s when it carries a bearer,
    else ``Proxy-Authorization``'s; "empty token" when neither does.
    """
    first = _bearer(proxy_authorization)
    verdict = judge(first, expect)
    if verdict.ok:
        return Verdict(verdict.claims, via=PROXY_AUTHORIZATION)
    second = _bearer(authorization)
    if not second and first:
        return verdict
    verdict = judge(second, expect)
    return Verdict(verdict.claims, via=AUTHORIZATION) if verdict.ok else verdict


def _bearer(value: str | None) -> str:
    """The token of a ``Bearer`` credential; '' for none or another scheme."""
    scheme, _, token = (value or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def judge(token: str, expect: Expectations) -> Verdict:
    """Check ``token`` as IAP does: form, RS256 signature, issuer, audience, expiry, email."""
    if not token:
        return _refused("empty token")
    try:
        header, claims = parse_jwt(token)
    except (JwtError, ValueError):
        return _refused("Unable to parse JWT")
    key = expect.keys().get(str(header.get("kid")))
    if header.get("alg") != "RS256" or key is None or not verify_signature(token, key):
        return _refused("JWT signature is invalid")
    issuer, audience = claims.get("iss"), claims.get("aud")
    if issuer != expect.issuer:
        return _refused(
            f"JWT issuer is invalid ('iss' claim ({_shown(issuer)}) doesn't match expected "
            f"value ({expect.issuer}))"
        )
    if audience != expect.audience:
        return _refused(
            "JWT audience doesn't match this application ('aud' claim "
            f"({_shown(audience)}) doesn't match expected value ({expect.audience}))"
        )
    expiry = claims.get("exp")
    if not isinstance(expiry, int | float) or isinstance(expiry, bool):
        return _refused("Unable to parse JWT")
    if expiry <= expect.clock():
        return _refused("Expired JWT")
    if not isinstance(claims.get("email"), str):
        return _refused("JWT 'email' claim isn't a string")
    return Verdict(claims)


def _refused(reason: str) -> Verdict:
    return Verdict(None, reason)


def _shown(value: object) -> str:
    """A claim as a refusal repeats it: text as it is, anything else as JSON; printable
    characters only, and at most :data:`_SHOWN` of them."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
