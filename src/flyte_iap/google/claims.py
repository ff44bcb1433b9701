"""Reading and checking a JWT's claims without verifying its signature.

The issuer just handed the token to us over TLS, so its signature is IAP's
business; ours is that what we print and cache is an ID token Google could have
issued for this audience. A hostile or broken endpoint (a captive portal, a wrong
``GCE_METADATA_HOST``) must not get anything else printed on stdout: not two lines,
not ``alg: none``, not a token for other audiences, not one that never expires.
"""

from __future__ import annotations

import base64
import json

from flyte_iap.errors import ProtocolError, shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
#: Google's ID tokens live an hour; an ``exp`` further away than this is not one of them.
LONGEST_LIFETIME = 24 * 3600.0
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _segment(part: str, what: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"{what} returned something that is not a JWT") from exc
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} returned a JWT whose {name} is not an object")
    return value


def _segments(token: str, what: str) -> list[str]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or not all(parts) or any(set(p) - _BASE64URL for p in parts):
        raise ProtocolError(
            f"{what} returned something that is not a JWT (three base64url parts, no spaces)"
        )
    return parts


def unverified_claims(token: str, what: str) -> dict[str, Any]:
    """The payload of ``token``; a ProtocolError naming ``what`` if it is not a JWT."""
    return _segment(_segments(token, what)[1], what, "payload")


def id_token_problems(token: str, *, audience: str, now: float, what: str) -> tuple[
    dict[str, Any], list[str]
]:  # fmt: skip
    """The claims of an ID token, and what makes it unusable for ``audience`` at ``now``.

    A ProtocolError if it is not a JWT at all. Checked: the header's ``alg`` is RS256
    (what Google signs with), ``iss`` is Google, ``aud`` is exactly ``audience`` (a
    string, not a list), ``exp`` is a finite time in the future and within a day.
    """
    header_part, payload_part, _ = _segments(token, what)
    header = _segment(header_part, what, "header")
    claims = _segment(payload_part, what, "payload")
    problems = []
    if header.get("alg") != "RS256":
        problems.append(f"its alg is {shown(header.get('alg'), 40)!r}, not RS256")
    if claims.get("iss") not in GOOGLE_ISSUERS:
        problems.append(f"iss is {shown(claims.get('iss'), 80)!r}, not Google")
    aud = claims.get("aud")
    if aud != audience or not isinstance(aud, str):
        problems.append(f"aud is {shown(aud, 80)!r}, not {audience}")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or exp - exp != 0:
        problems.append("it has no usable exp")
    elif exp <= now:
        problems.append("it has already expired (check this machine's clock)")
    elif exp > now + LONGEST_LIFETIME:
        problems.append("its exp is more than a day away")
    return claims, problems


def check_id_token(token: str, *, audience: str, what: str, now: float) -> dict[str, Any]:
    """Claims of an ID token after :func:`id_token_problems` found nothing wrong."""
    claims, problems = id_token_problems(token, audience=audience, now=now, what=what)
    if problems:
        reasons = "; ".join(problems)
        raise ProtocolError(f"{what} returned an ID token that is not usable: {reasons}")
    return claims


#: How deeply a decoded header or payload may nest: Google's claims nest three levels
#: (``google.compute_engine.project_id``); anything far deeper is built to hurt a parser.
MAX_DEPTH = 20


def decode_parts(token: str, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (header, payload) of ``token``, unverified; a ProtocolError naming ``what``.

    For tokens a person hands us (``decode``) or a command printed (``doctor``), so each
    message says which way the text is not a JWT: not three base64url parts, a part
    that is not base64url JSON, a part that is not an object, or one nested too deep.
    """
    try:
        header_part, payload_part, _ = _segments(token, what)
    except ProtocolError as exc:
        raise exc.reworded(
            f"{what} is not a JWT: a JWT is three base64url parts separated by dots, with no spaces"
        ) from None
    return _object(header_part, what, "header"), _object(payload_part, what, "payload")


def _object(part: str, what: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except RecursionError:
        raise ProtocolError(f"{what} is not a JWT: its {name} is nested too deep") from None
    except ValueError:
        raise ProtocolError(f"{what} is not a JWT: its {name} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a JWT: its {name} is not a JSON object")
    if _depth(value) > MAX_DEPTH:
        raise ProtocolError(f"{what} is not a JWT: its {name} is nested too deep")
    return value


def _depth(value: object) -> int:
    """How deeply ``value`` nests lists and objects (1 for a flat object); iterative, so a
    value deep enough to stop a recursive walk cannot stop this one."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                break
            stack.extend((child, level + 1) for child in item)
    return deepest
