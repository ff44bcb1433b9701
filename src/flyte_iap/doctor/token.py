"""Check 3: the token is one IAP can accept: Google's issuer, not expired, an email,
a valid signature, and ``aud`` the IAP (webapp) client.

The classic mistake is a person's token asked for without ``audience``: its ``aud`` is
then the desktop client itself (equal to ``azp``), and IAP refuses it.
"""

from __future__ import annotations

from typing import Any

from flyte_iap.doctor.check import Check, fail, ok
from flyte_iap.errors import ProtocolError, shown
from flyte_iap.google import decode_parts, verify_id_token
from flyte_iap.transport import HttpClient

NAME = "token"
_CLIENT_SUFFIX = ".apps.googleusercontent.com"


def claims_of(token: str) -> dict[str, Any]:
    """The token's claims, unverified ({} when it is no JWT: check 2 said so)."""
    try:
        return decode_parts(token, "the token")[1]
    except ProtocolError:
        return {}


def token_check(
    token: str,
    *,
    audience: str | None,
    desktop_client: str | None,
    certs_uri: str,
    http: HttpClient,
    now: float,
) -> Check:
    """Check 3. ``audience`` is the webapp client the command asks for (None when the
    command does not say: ``aud`` is then shown, and IAP's verdict in check 6 decides);
    ``desktop_client`` the person's desktop client, when the command names one."""
    claims = claims_of(token)
    aud = claims.get("aud")
    verdicts = verify_id_token(
        token, audience or (aud if isinstance(aud, str) else ""), certs_uri, http, now
    )
    problems = [f"{v.name}: {v.detail}" for v in verdicts if not v.ok]
    fixes = []
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        problems.append("it has no email claim, which IAP needs")
        fixes.append("a service account's token must include its email (flyte-iap's do)")
    azp = claims.get("azp")
    if isinstance(aud, str) and (
        aud == desktop_client or (aud == azp and aud.endswith(_CLIENT_SUFFIX))
    ):
        problems.append(
            f"aud is {shown(aud, 80)!r}, the desktop client that asked for it (= azp): "
            "the classic mistake, a token for the desktop client and not for IAP"
        )
        fixes.append(
            "ask for the token with audience = IAP's OAuth client: generate-user-id-token "
            "--webapp_client_id IAP_CLIENT_ID (IAP's web client, not the desktop one)"
        )
    elif any(v.name == "audience" and not v.ok for v in verdicts):
        fixes.append("the command's --webapp_client_id must be IAP's OAuth client id")
    if any(v.name == "expiry" and not v.ok for v in verdicts):
        fixes.append("check this machine's clock; a token command must print a fresh token")
    if any(v.name in ("signature", "issuer") and not v.ok for v in verdicts):
        fixes.append("use a token Google issued (flyte-iap's token commands)")
    who = shown(email, 80) if isinstance(email, str) and email else "no email"
    if problems:
        return fail(NAME, f"{who}: " + "; ".join(problems), "; ".join(fixes) or "see above")
    exp = claims.get("exp")
    left = f", expires in {(exp - now) / 60:.0f} min" if isinstance(exp, int | float) else ""
    compared = "" if audience else " (the command names no --webapp_client_id to compare)"
    detail = (
        f"{who}, aud {shown(aud, 80)}{compared}, issuer {shown(claims.get('iss'), 60)}"
        f"{left}, signature verified"
    )
    return ok(NAME, detail)
