"""Checks 5 and 6: IAP refuses a request without a token and lets one with it pass.

IAP marks its own answers with ``x-goog-iap-generated-response: true`` (401 for a
program, 302 to Google's login for a browser). An answer without it to a request
with no token came from behind IAP: the endpoint is not protected by IAP at all.
The request is the one the generation's SDK makes (a :class:`Probe`): for Flyte 1
flyteadmin's version, the token as ``proxy-authorization: Bearer``, as flytekit sends it;
for Flyte 2 a Connect call of ``IdentityService/UserInfo``, the token as
``authorization: Bearer``, as the flyte SDK sends it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from flyte_iap.doctor.check import Check, fail, ok, redacted
from flyte_iap.errors import FlyteIapError, shown
from flyte_iap.flyteconfig import Endpoint
from flyte_iap.google import GENERATED_HEADER, from_iap
from flyte_iap.transport import HttpClient, Response

VERSION_PATH = "/api/v1/version"
USER_INFO_PATH = "/flyteidl2.auth.IdentityService/UserInfo"


@dataclass(frozen=True)
class Probe:
    """The request checks 5 and 6 make, and the header the token goes in."""

    method: str
    path: str
    token_header: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, endpoint: Endpoint, http: HttpClient, token: str | None) -> Response:
        headers = dict(self.headers)
        if token is not None:
            headers[self.token_header] = f"Bearer {token}"
        return http.request(
            self.method, endpoint.base_url + self.path, what="the endpoint", headers=headers,
            data=self.body,
        )  # fmt: skip


#: flytekit and flytectl: flyteadmin's version, the token as proxy-authorization.
FLYTE1 = Probe("GET", VERSION_PATH, "proxy-authorization")
#: The flyte SDK 2.x: a Connect unary call in JSON, the token as authorization.
FLYTE2 = Probe(
    "POST",
    USER_INFO_PATH,
    "authorization",
    b"{}",
    {"content-type": "application/json", "connect-protocol-version": "1"},
)
PROBES = {1: FLYTE1, 2: FLYTE2}
_REACH = "check the endpoint, and that this machine may reach it (firewall, VPN)"
_TAG = re.compile(r"<[^>]*>")


def iap_message(response: Response) -> str:
    """IAP's own words (its body, tags dropped), safe to print."""
    text = html.unescape(_TAG.sub(" ", response.text()))
    return redacted(text, 200) or "an empty body"


def without_token_check(endpoint: Endpoint, http: HttpClient, probe: Probe = FLYTE1) -> Check:
    name = "without a token"
    try:
        response = probe.send(endpoint, http, None)
    except FlyteIapError as exc:
        return fail(name, shown(exc), _REACH)
    if from_iap(response.headers):
        return ok(name, f"refused by IAP ({response.status})")
    detail = (
        f"{probe.method} {probe.path} with no token was answered {response.status} without "
        f"IAP's {GENERATED_HEADER} header: the backend answered it, not IAP"
    )
    fix = (
        "turn IAP on for the backend service behind this host (Security > Identity-Aware "
        "Proxy), and check that no other route reaches the backend (flyte-iap manifests "
        "check)"
    )
    alarm = (
        f"THE ENDPOINT {endpoint.base_url.upper()} IS NOT PROTECTED BY IAP: "
        "ANYONE WHO CAN REACH IT IS ANSWERED WITHOUT A TOKEN"
    )
    return fail(name, detail, fix, alarm)


def with_token_check(
    endpoint: Endpoint,
    http: HttpClient,
    token: str,
    claims: dict[str, Any],
    probe: Probe = FLYTE1,
) -> tuple[Check, Response | None]:
    """Check 6, and the answer (check 7 reads the backend's from it)."""
    name = "with the token"
    try:
        response = probe.send(endpoint, http, token)
    except FlyteIapError as exc:
        return fail(name, shown(exc), _REACH), None
    if not from_iap(response.headers) or response.status >= 500:
        return ok(name, f"passed IAP (answered {response.status})"), response
    said = iap_message(response)
    detail = f"IAP refused it ({response.status}): {said}"
    return fail(name, detail, _fix(response.status, said, claims)), None


def _fix(status: int, said: str, claims: dict[str, Any]) -> str:
    text = said.lower()
    aud, email = shown(claims.get("aud"), 80), shown(claims.get("email") or "the account", 80)
    if "audience" in text or "'aud'" in text:
        return (
            f"the token's aud is {aud}, not the OAuth client of this IAP backend: give the "
            "proxy command --webapp_client_id = IAP's client id (Security > Identity-Aware "
            "Proxy > the backend service > OAuth client)"
        )
    if "expired" in text:
        return "the token has expired: check this machine's clock"
    if status == 403:
        return (
            f"IAP knows {email} but does not let it in: grant it IAP-secured Web App User "
            "(roles/iap.httpsResourceAccessor) on the backend service"
        )
    if "signature" in text or "issuer" in text:
        return "the token is not one Google issued: use a flyte-iap token command"
    return f"flyte-iap decode --verify --audience IAP_CLIENT_ID on a token shows why (aud {aud})"
