"""``flyte-iap proxy``: a local reverse proxy adding IAP's token, for clients without
``proxyCommand`` (Flyte 2, curl, scripts). The server is :mod:`flyte_iap.tokens.proxy`.

TOKEN_COMMAND and its options are the words of a ``proxyCommand``; the requests they
stand for are built here as the token commands build them, and the use cases run in
process. A person's first login happens before the proxy listens; later renewals are
silent, and a login that needs the browser again is answered with 401 (never a
browser opened by the proxy).
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Callable

import click

from flyte_iap.cli.options import (
    SERVICE_ACCOUNT_OPTIONS,
    SERVICE_ACCOUNT_TOKEN_COMMAND,
    TOKEN_COMMANDS,
    USER_TOKEN_COMMAND,
    VERBOSE,
    parse_simple,
)
from flyte_iap.cli.params import click_option, wiring
from flyte_iap.cli.wiring import Wiring
from flyte_iap.errors import FlyteIapError, LoginError, UsageError, shown
from flyte_iap.google.endpoints import check_url, is_loopback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flyte_iap.tokens.proxy.tokens import Token

INSTALL = "pip install 'flyte-iap[proxy]'"
_Values = dict[str, str | float | int | bool]


@click.command("proxy", context_settings={"allow_interspersed_args": False})
@click.option(
    "--upstream", required=True, metavar="https://HOST", help="The Flyte behind IAP (its URL)."
)
@click.option(
    "--listen",
    default="127.0.0.1:0",
    show_default=True,
    metavar="HOST:PORT",
    help="Loopback address to listen on (127.0.0.1, localhost or [::1]); port 0 picks one.",
)
@click.option(
    "--ca-file", metavar="PEM", help="CA certificates to verify the upstream with (a private CA)."
)
@click_option(VERBOSE)
@click.argument("token_command", metavar="TOKEN_COMMAND")
@click.argument("token_args", nargs=-1, type=click.UNPROCESSED, metavar="[ITS OPTIONS]...")
def proxy(
    upstream: str, listen: str, ca_file: str | None, token_command: str, token_args: tuple[str, ...]
) -> None:
    """Serve http://localhost:PORT, forwarding to --upstream with an IAP token added.

    TOKEN_COMMAND and its options are those of a proxyCommand:
    generate-service-account-id-token or generate-user-id-token. For Flyte 2, curl and
    other clients that cannot run a proxyCommand. Ctrl-C stops it.
    """
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise FlyteIapError(f"flyte-iap proxy needs aiohttp: {INSTALL}") from None
    from flyte_iap.tokens.proxy.server import ProxySettings, serve, tls_context
    from flyte_iap.tokens.proxy.tokens import TokenProvider

    run = wiring()
    values = token_values(token_command, list(token_args), run)
    host, port = listen_address(listen)
    base = check_url(upstream.rstrip("/"), source="--upstream")
    if ca_file is not None:
        try:
            tls_context(ca_file)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise UsageError(
                f"--ca-file {shown(ca_file)}: not a readable PEM file ({exc})"
            ) from None
    first, fetch = token_source(token_command, values, run)
    token = first()  # a person logs in now, before anything listens
    margin = float(values["refresh_margin"])
    tokens = TokenProvider(fetch, margin=margin, clock=run.clock, console=run.console, first=token)
    serve(ProxySettings(base, host, port, ca_file), tokens, run.console)


def token_values(command: str, args: list[str], run: Wiring) -> _Values:
    """The options of a proxyCommand's token command, checked, defaults filled in
    (``-v`` among them turns on ``--verbose``)."""
    options = TOKEN_COMMANDS.get(command)
    if options is None:
        raise UsageError(f"TOKEN_COMMAND is {shown(command)!r}: use {' or '.join(TOKEN_COMMANDS)}")
    if any(a in ("-h", "--help") for a in args):
        raise UsageError(f"see 'flyte-iap {command} --help' for its options")
    values = parse_simple(args, options)
    if values is None:
        from flyte_iap.cli.tokenargs import token_arguments

        token_arguments(command, args, run.env)  # raises, saying what is wrong
        raise UsageError(f"{command}: these options cannot be used here")
    if values.pop("verbose", False):
        run.verbose = True
    return values


def listen_address(value: str) -> tuple[str, int]:
    """(address to bind, port) of ``--listen``: loopback only, named literally."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"--listen {shown(value)!r}: use HOST:PORT, like 127.0.0.1:8080")
    if not is_loopback(host):
        raise UsageError(
            f"--listen {shown(value)!r}: not a loopback address; the proxy hands out your "
            "credentials, so it listens on 127.0.0.1, localhost or [::1] only"
        )
    if host.lower() == "localhost":
        host = "127.0.0.1"
    return host.strip("[]"), int(port_text)


def token_source(
    command: str, values: _Values, run: Wiring
) -> tuple[Callable[[], Token], Callable[[bool], Token]]:
    """(the first fetch, the later ones) of ``command``'s token, by its use case in this
    process; the later ones never open a browser."""
    from flyte_iap.tokens.proxy.tokens import Token

    if command == SERVICE_ACCOUNT_TOKEN_COMMAND:
        from flyte_iap.tokens.service_account import (
            ServiceAccountRequest,
            get_service_account_token,
        )

        assert set(values) <= {o.name for o in SERVICE_ACCOUNT_OPTIONS}
        sa = ServiceAccountRequest(
            audience=str(values["webapp_client_id"]),
            key_path=_text(values, "service_account_key"),
            impersonate=_text(values, "impersonate_service_account"),
            refresh_margin=float(values["refresh_margin"]),
        )

        def fetch_sa(force: bool) -> Token:
            request = dataclasses.replace(sa, refresh_margin=math.inf) if force else sa
            entry = get_service_account_token(request, run.services)
            return Token(entry.id_token, entry.expiry)

        return lambda: fetch_sa(False), fetch_sa
    assert command == USER_TOKEN_COMMAND
    return _user_fetcher(values, run)


def _user_fetcher(
    values: _Values, run: Wiring
) -> tuple[Callable[[], Token], Callable[[bool], Token]]:
    from flyte_iap.cli.user import user_request
    from flyte_iap.login.flow import LoginUi
    from flyte_iap.login.terminal import Terminal
    from flyte_iap.tokens.proxy.tokens import LoginNeeded, Token
    from flyte_iap.tokens.user import get_user_token

    cache = str(values.get("cache", "file"))
    request = user_request(
        run,
        desktop_client_id=str(values["desktop_client_id"]),
        audience=str(values["webapp_client_id"]),
        secret_name=_text(values, "desktop_client_secret_gcp_secret_name"),
        project=_text(values, "project"),
        client_secret=_text(values, "desktop_client_secret"),
        no_browser=bool(values.get("no_browser", False)),
        port=int(values.get("port", 0)),
        timeout=float(values["timeout"]),
        cache=cache,
        refresh_margin=float(values["refresh_margin"]),
    )
    store = run.user_store(cache)
    # Later renewals: nobody to show a URL to and no browser, so a login that needs the
    # browser fails at once instead of opening one from the proxy.
    silent_ui = LoginUi(Terminal(stderr=io.StringIO(), tty_path=None), lambda url: False)
    silent = dataclasses.replace(request, no_browser=False)

    def first() -> Token:
        entry = get_user_token(request, run.services, store, run.login_ui())
        return Token(entry.id_token, entry.expiry)

    def later(force: bool) -> Token:
        asked = dataclasses.replace(silent, refresh_margin=math.inf) if force else silent
        try:
            entry = get_user_token(asked, run.services, store, silent_ui)
        except LoginError:
            raise LoginNeeded(
                f"the login is no longer valid (revoked or expired): run `{request.login_command}` "
                "in a terminal; until then the proxy answers 401"
            ) from None
        return Token(entry.id_token, entry.expiry)

    return first, later


def _text(values: _Values, name: str) -> str | None:
    value = values.get(name)
    return str(value) if value is not None else None
