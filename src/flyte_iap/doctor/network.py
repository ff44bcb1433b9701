"""Check 4: the endpoint's host resolves, and its TLS certificate is valid.

With ``insecure: true`` on a loopback endpoint (the emulator's IAP gate) there is no
TLS to check: not applicable, not a failure. ``insecure: true`` anywhere else sends
the token in clear text, and IAP serves HTTPS only: a failure. Every step is bounded
(``bounded``): ``getaddrinfo`` has no timeout of its own.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from typing import TypeVar

from flyte_iap.doctor.check import Check, fail, na, ok
from flyte_iap.errors import shown
from flyte_iap.files import read_small_file
from flyte_iap.flyteconfig import Endpoint

T = TypeVar("T")
#: Seconds for resolving, for connecting, and for the handshake.
STEP_TIMEOUT = 5.0
_PRIVATE_CA = "for a private CA, set admin.caCertFilePath to its PEM file"


def bounded(step: Callable[[], T], timeout: float) -> T:
    """``step()`` on a helper thread, waited for ``timeout`` seconds; TimeoutError after."""
    outcome: list[T | BaseException] = []

    def run() -> None:
        try:
            outcome.append(step())
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, name="flyte-iap-doctor", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"no answer within {timeout:g} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def loopback_http(endpoint: Endpoint) -> bool:
    """Plain HTTP to this machine: the emulator's gate, a port-forward."""
    return not endpoint.tls and endpoint.loopback


def dns_check(endpoint: Endpoint) -> Check:
    name, host = "dns", shown(endpoint.host, 80)
    try:
        found = bounded(
            lambda: socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM),
            STEP_TIMEOUT,
        )
    except (OSError, UnicodeError) as exc:
        fix = "check the host in admin.endpoint, and this machine's DNS or VPN"
        return fail(name, f"{host} does not resolve: {shown(exc, 80)}", fix)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    more = f" and {len(addresses) - 3} more" if len(addresses) > 3 else ""
    return ok(name, f"{host} resolves to {', '.join(addresses[:3])}{more}")


def tls_check(endpoint: Endpoint, ca_cert: str | None) -> Check:
    name = "tls"
    if loopback_http(endpoint):
        return na(name, "plain HTTP to a loopback endpoint (insecure: true): no TLS to check")
    if not endpoint.tls:
        detail = f"insecure: true sends the token unencrypted to {shown(endpoint.host, 80)}"
        return fail(name, detail, "IAP serves HTTPS only: set admin.insecure: false")
    try:
        context = ssl.create_default_context()
        if ca_cert:
            context.load_verify_locations(cadata=read_small_file(ca_cert).decode("ascii"))
    except (OSError, ValueError, ssl.SSLError) as exc:
        detail = f"admin.caCertFilePath {shown(ca_cert, 100)} is not a readable PEM file"
        return fail(name, f"{detail} ({shown(type(exc).__name__)})", "fix or remove it")
    try:
        version, cert = bounded(lambda: _handshake(endpoint, context), 2 * STEP_TIMEOUT + 1)
    except ssl.SSLCertVerificationError as exc:
        return fail(name, f"the certificate is not valid: {shown(exc.verify_message)}", _fix(exc))
    except (OSError, ssl.SSLError) as exc:
        fix = "check admin.endpoint's port, and that this machine may reach it (firewall, VPN)"
        if endpoint.loopback:
            fix = "a plain-HTTP loopback endpoint (the emulator's gate) needs admin.insecure: true"
        return fail(name, f"no TLS handshake with {endpoint.authority}: {shown(exc, 100)}", fix)
    issuer = _field(cert.get("issuer", ()), "organizationName") or "unknown issuer"
    until = cert.get("notAfter", "?")
    return ok(name, f"{version}, certificate issued by {shown(issuer, 60)}, valid until {until}")


def _handshake(endpoint: Endpoint, context: ssl.SSLContext) -> tuple[str, dict[str, object]]:
    with (
        socket.create_connection((endpoint.host, endpoint.port), timeout=STEP_TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=endpoint.host) as tls,
    ):
        return str(tls.version()), dict(tls.getpeercert() or {})


def _field(rdns: object, key: str) -> str:
    for rdn in rdns if isinstance(rdns, tuple) else ():
        for pair in rdn:
            if pair[0] == key:
                return str(pair[1])
    return ""


def _fix(exc: ssl.SSLCertVerificationError) -> str:
    message = str(exc.verify_message or "")
    if "hostname" in message or "IP address mismatch" in message:
        return "the certificate is for another name: check the host in admin.endpoint"
    if "expired" in message:
        return "the load balancer's certificate has expired: renew it"
    return _PRIVATE_CA
