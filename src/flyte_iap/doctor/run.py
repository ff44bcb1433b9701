"""The checks in order; one that fails makes those that need its result not applicable."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from flyte_iap.doctor.admin import grpc_check, rest_check
from flyte_iap.doctor.check import Check, Status, na
from flyte_iap.doctor.command import NAMES as COMMANDS
from flyte_iap.doctor.command import command_check, option_value
from flyte_iap.doctor.config import read_config
from flyte_iap.doctor.connect import NAME as BACKEND
from flyte_iap.doctor.connect import backend_check
from flyte_iap.doctor.iap import PROBES, with_token_check, without_token_check
from flyte_iap.doctor.network import dns_check, tls_check
from flyte_iap.doctor.token import NAME as TOKEN
from flyte_iap.doctor.token import claims_of, token_check
from flyte_iap.transport import HttpClient


@dataclass(frozen=True)
class DoctorRequest:
    """Where the settings come from: a config file, or the endpoint and command given."""

    config_path: str | None
    endpoint: str | None = None
    command: list[str] | None = None
    insecure: bool = False
    command_timeout: float = 60.0
    #: 1 or 2; None: as the config file says (1 without a file).
    generation: int | None = None


@dataclass(frozen=True)
class Probes:
    """The seams: the environment the command runs in, the HTTP client for the endpoint
    (made for its private CA, if any: one try, short timeouts), the one for Google's
    certs, the clock."""

    env: Mapping[str, str]
    endpoint_http: Callable[[str | None], HttpClient]
    google_http: HttpClient
    certs_uri: str
    clock: Callable[[], float]


def diagnose(request: DoctorRequest, probes: Probes) -> Iterator[Check]:
    """Each check as it is done."""
    config, target = read_config(
        request.config_path,
        endpoint=request.endpoint,
        command=request.command,
        insecure=request.insecure,
        generation=request.generation,
    )
    yield config
    generation = target.generation if target is not None else request.generation or 1
    names = (COMMANDS[generation], TOKEN, "dns", "tls", "without a token", "with the token")
    if target is None:
        last = (BACKEND,) if generation == 2 else ("flyteadmin rest", "flyteadmin grpc")
        for name in (*names, *last):
            yield na(name, "not checked: the config is not usable")
        return
    backend = (BACKEND,) if target.generation == 2 else ("flyteadmin rest", "flyteadmin grpc")
    probe = PROBES[target.generation]
    command, token = command_check(
        target.command, probes.env, request.command_timeout, COMMANDS[target.generation]
    )
    yield command
    claims = claims_of(token) if token else {}
    if token:
        yield token_check(
            token,
            audience=option_value(target.command, "webapp_client_id"),
            desktop_client=option_value(target.command, "desktop_client_id"),
            certs_uri=probes.certs_uri,
            http=probes.google_http,
            now=probes.clock(),
        )
    else:
        yield na(TOKEN, "not checked: the proxy command gave no token")
    endpoint = target.endpoint
    dns = dns_check(endpoint)
    yield dns
    if dns.status is Status.FAIL:
        for name in (*names[3:], *backend):
            yield na(name, "not checked: the host does not resolve")
        return
    yield tls_check(endpoint, target.ca_cert)
    http = probes.endpoint_http(target.ca_cert)
    yield without_token_check(endpoint, http, probe)
    # Plain HTTP to another machine: the tls check said the token must not go there, so
    # the doctor does not send it either (a loopback endpoint is this machine).
    in_clear = not endpoint.tls and not endpoint.loopback
    if not token or in_clear:
        why = "the token is not sent unencrypted (see tls)" if in_clear else "no token"
        for name in (*names[5:], *backend):
            yield na(name, f"not checked: {why}")
        return
    passed, response = with_token_check(endpoint, http, token, claims, probe)
    yield passed
    if response is None:
        for name in backend:
            yield na(name, "not checked: the token did not get through (above)")
        return
    if target.generation == 2:
        yield backend_check(response, claims, endpoint=endpoint, http=http, token=token)
        return
    rest = rest_check(response)
    yield rest
    yield grpc_check(endpoint, token, target.ca_cert, rest.status is Status.OK)
