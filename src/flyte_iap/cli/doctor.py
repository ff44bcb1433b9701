"""``doctor``: check, step by step, that flytekit and flytectl will get through IAP.

The report is the command's result, so it goes to stdout: one line per check
(✓ passed, ✗ failed with what to do, a dash: not applicable); the exit is 0 only when no
check failed. The token itself is never shown.

``FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT`` (seconds, default 60, at most 600) bounds how long
the proxy command may run before it is killed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping

import click

from flyte_iap.cli import LAUNCH
from flyte_iap.cli.options import SERVICE_ACCOUNT_TOKEN_COMMAND, USER_TOKEN_COMMAND, VERBOSE
from flyte_iap.cli.params import click_option, wiring
from flyte_iap.doctor import DEFAULT_TIMEOUT, DoctorRequest, Probes, Status, diagnose
from flyte_iap.errors import ConfigError, UsageError, shown

MARKS = {Status.OK: "✓", Status.FAIL: "✗", Status.NA: "\N{EN DASH}"}
TIMEOUT_VARIABLE = "FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT"
#: Seconds per request to the endpoint: a healthy IAP answers in well under one.
PROBE_TIMEOUT = 10.0
_WIDTH = 16


@click.command(
    "doctor",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--config", "config_path", metavar="PATH", help="The Flyte config to check "
              "(default: $FLYTECTL_CONFIG, else ~/.flyte/config.yaml).")  # fmt: skip
@click.option("--endpoint", metavar="dns:///HOST[:PORT]", help="Check this endpoint "
              "instead of the config's admin.endpoint.")  # fmt: skip
@click.option("--insecure", is_flag=True, help="Plain HTTP to the endpoint (as admin."
              "insecure: true; for a loopback endpoint such as the emulator's gate).")  # fmt: skip
@click.option("--flyte", "generation", type=click.Choice(["1", "2"]), help="Check as the SDK "
              "of this Flyte would call (default: as the config says; 1 without one).")  # fmt: skip
@click_option(VERBOSE)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[--] [TOKEN_COMMAND]...")
def doctor(
    config_path: str | None,
    endpoint: str | None,
    insecure: bool,
    generation: str | None,
    command: tuple[str, ...],
) -> None:
    """Check a Flyte config against IAP: the token command, its token, DNS and TLS,
    IAP's answers without and with the token, and the backend behind it (flyteadmin for
    Flyte 1; for Flyte 2, whom the backend sees the caller as).

    A token command may be given instead of admin.proxyCommand, e.g.
    `flyte-iap doctor --endpoint dns:///HOST -- generate-service-account-id-token
    --webapp_client_id ID`. Exit 0 only when no check failed; the token is never
    shown. FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT (seconds, default 60) bounds the command.
    """
    run = wiring()
    words = list(command)
    if words and words[0] in (SERVICE_ACCOUNT_TOKEN_COMMAND, USER_TOKEN_COMMAND):
        words = [sys.executable, *LAUNCH, *words]
    from flyte_iap.flyteconfig import config_path as flyte_config

    given = config_path or run.env.get("FLYTECTL_CONFIG")
    path = given or (None if endpoint is not None and words else flyte_config(None, run.env))
    request = DoctorRequest(
        path,
        endpoint=endpoint,
        command=words or None,
        insecure=insecure,
        command_timeout=command_timeout(run.env),
        generation=int(generation) if generation else None,
    )
    if endpoint is not None:
        _check_endpoint(endpoint, insecure)
    failed, alarms = 0, []
    for check in diagnose(request, _probes()):
        click.echo(f"{MARKS[check.status]} {check.name:<{_WIDTH}} {check.detail}")
        if check.status is Status.FAIL:
            failed += 1
            click.echo(f"  {'':<{_WIDTH}} fix: {check.fix}")
        if check.alarm:
            alarms.append(check.alarm)
            click.echo(f"!!! {check.alarm} !!!")
    for alarm in alarms:
        click.echo(f"!!! {alarm} !!!")
    if failed:
        click.echo(f"{failed} check{'s' if failed > 1 else ''} failed")
        click.get_current_context().exit(1)
    click.echo("all checks passed")


def _probes() -> Probes:
    from flyte_iap.google import Endpoints
    from flyte_iap.transport import HttpClient, http_timeout

    run = wiring()
    timeout = min(http_timeout(run.env), PROBE_TIMEOUT)

    def endpoint_http(ca_cert: str | None) -> HttpClient:
        return HttpClient(
            timeout=timeout,
            tries=1,
            budget=3 * timeout + 1,
            sleep=run.sleep,
            debug=run.console.debug,
            ca_file=ca_cert,
        )

    certs_uri = Endpoints.from_env(run.env).certs_uri
    return Probes(run.env, endpoint_http, run.http, certs_uri, run.clock)


def command_timeout(env: Mapping[str, str]) -> float:
    """FLYTE_IAP_DOCTOR_COMMAND_TIMEOUT in seconds (default 60); a UsageError unless
    0 < it <= 600."""
    raw = env.get(TIMEOUT_VARIABLE, str(DEFAULT_TIMEOUT))
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= 600:
        raise UsageError(
            f"{TIMEOUT_VARIABLE} is {shown(raw, 40)!r}: give a number of seconds above 0 "
            "and at most 600"
        )
    return value


def _check_endpoint(endpoint: str, insecure: bool) -> None:
    from flyte_iap.flyteconfig import parse_endpoint

    try:
        parse_endpoint(endpoint, insecure=insecure)
    except ConfigError as exc:
        raise UsageError(f"--endpoint {shown(endpoint, 80)!r}: {exc}") from None
