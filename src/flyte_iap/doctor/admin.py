"""Check 7: flyteadmin answers behind IAP, over REST and over gRPC.

REST is ``GET /api/v1/version`` (JSON with ``controlPlaneVersion``). gRPC is
``AdminService/GetVersion`` sent with grpc's generic API: an empty request is ``b""``
and the answer's version is read from the protobuf bytes here, so neither flyteidl nor
flytekit is needed; grpcio itself is imported only when installed. The emulator's IAP
gate speaks HTTP/1.1, which gRPC cannot pass: on a plain-HTTP loopback endpoint whose
REST check passed, a failed gRPC call is not applicable rather than a failure.
"""

from __future__ import annotations

import importlib
from typing import Any

from flyte_iap.doctor.check import Check, fail, na, ok, redacted
from flyte_iap.doctor.iap import VERSION_PATH
from flyte_iap.doctor.network import loopback_http
from flyte_iap.errors import shown
from flyte_iap.files import read_small_file
from flyte_iap.flyteconfig import Endpoint
from flyte_iap.protowire import LEN, WireError, fields
from flyte_iap.transport import Response

GET_VERSION = "/flyteidl.service.AdminService/GetVersion"
GRPC_TIMEOUT = 10.0


def rest_check(response: Response) -> Check:
    name = "flyteadmin rest"
    if response.status in (502, 503, 504):
        detail = f"GET {VERSION_PATH} answered {response.status}: {_said(response)}"
        fix = (
            "IAP let the request in, but flyteadmin did not answer: is it running and "
            "healthy? (kubectl -n flyte get pods; the backend service's health check)"
        )
        return fail(name, detail, fix)
    if response.status == 404:
        detail = f"GET {VERSION_PATH} answered 404: this host does not route it to flyteadmin"
        return fail(name, detail, "route /api/ to flyteadmin (flyte-iap manifests check)")
    if not response.ok:
        detail = f"GET {VERSION_PATH} answered {response.status}: {_said(response)}"
        return fail(name, detail, "flyteadmin refused it: is its own authentication on?")
    try:
        body = response.json()
    except ValueError:
        body = None
    version = body.get("controlPlaneVersion") if isinstance(body, dict) else None
    if not isinstance(version, dict):
        detail = f"GET {VERSION_PATH} answered with {response.kind()}, not flyteadmin's version"
        return fail(name, detail, "route /api/ to flyteadmin (flyte-iap manifests check)")
    return ok(name, f"flyteadmin {shown(version.get('Version') or '(no version)', 60)}")


def _said(response: Response) -> str:
    lines = response.text().strip().splitlines()
    return redacted(lines[0], 120) if lines else response.kind()


def grpc_check(endpoint: Endpoint, token: str, ca_cert: str | None, rest_passed: bool) -> Check:
    name = "flyteadmin grpc"
    try:
        grpc: Any = importlib.import_module("grpc")
    except ImportError:
        return na(name, "grpcio is not installed, so gRPC is not checked (pip install grpcio)")
    try:
        answer = _call(grpc, endpoint, token, ca_cert)
    except grpc.RpcError as exc:
        said = f"{exc.code().name}: {redacted(str(exc.details() or ''), 80)}"
        if loopback_http(endpoint) and rest_passed:
            return na(
                name,
                "gRPC (HTTP/2) cannot pass a plain HTTP/1.1 front such as the emulator's "
                f"IAP gate, and REST passed ({said})",
            )
        fix = (
            "REST passed, so the gateway does not pass gRPC (HTTP/2) to flyteadmin's gRPC "
            "port: check its routes (flyte-iap manifests check)"
            if rest_passed
            else "see the REST check"
        )
        return fail(name, f"GetVersion failed: {said}", fix)
    except OSError as exc:
        return fail(name, f"admin.caCertFilePath cannot be read: {shown(exc)}", "fix it")
    version = _last_field(_last_field(answer, 1), 2).decode("utf-8", "replace")
    return ok(name, f"GetVersion answered: flyteadmin {shown(version or '(no version)', 60)}")


def _call(grpc: Any, endpoint: Endpoint, token: str, ca_cert: str | None) -> bytes:
    if endpoint.tls:
        roots = read_small_file(ca_cert) if ca_cert else None
        channel = grpc.secure_channel(
            endpoint.authority, grpc.ssl_channel_credentials(root_certificates=roots)
        )
    else:
        channel = grpc.insecure_channel(endpoint.authority)
    with channel:
        call = channel.unary_unary(GET_VERSION)  # no serializers: bytes in, bytes out
        metadata = (("proxy-authorization", f"Bearer {token}"),)
        answer = call(b"", metadata=metadata, timeout=GRPC_TIMEOUT)
    return bytes(answer)


def _last_field(data: bytes, number: int) -> bytes:
    """The last length-delimited field ``number`` of a protobuf message (b"" if none).
    Read as far as the message can be walked: a version is worth showing from a message
    cut short."""
    found = b""
    try:
        for field in fields(data):
            if field.number == number and field.wire == LEN and isinstance(field.value, bytes):
                found = field.value
    except WireError:
        pass
    return found
