"""``flyte-iap proxy``: a local reverse proxy adding IAP's token, for clients without
``proxyCommand`` (Flyte 2, curl, scripts). The server is :mod:`flyte_iap.proxy`.

TOKEN_COMMAND and its options are the words of a ``proxyCommand``; the requests they
stand for are built here as the token commands build them, and the use cases run in
process. A person's first login happens before the proxy listens; later renewals are
silent, and a login that needs the browser again is answered with 401 (never a
browser opened by the proxy).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from flyte_iap.cli.options import VERBOSE, token_request, token_words
from flyte_iap.cli.params import click_option, wiring
from flyte_iap.errors import FlyteIapError, UsageError, shown
from flyte_iap.hosts import is_loopback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flyte_iap.cli.wiring import Wiring
    from flyte_iap.proxy import ProxySettings, TokenProvider

INSTALL = "pip install 'flyte-iap[proxy]'"


@click.command("proxy", context_settings={"allow_interspersed_args": False})
@click.option(
    "--upstream", required=True, metavar="https://HOST", help="The Flyte behind IAP (its URL)."
)
@click.option(
    "--listen",
    default="localhost:0",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen: localhost (or 127.0.0.1) is both 127.0.0.1 and [::1] on one "
    "port; another 127.x.y.z, or [::1], that address alone. Port 0 picks one.",
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
    from flyte_iap.proxy import serve

    run = wiring()
    settings, tokens = prepare(run, upstream, listen, ca_file, token_command, token_args)
    serve(settings, tokens, run.console)


def prepare(
    run: Wiring,
    upstream: str,
    listen: str,
    ca_file: str | None,
    token_command: str,
    token_args: Sequence[str],
) -> tuple[ProxySettings, TokenProvider]:
    """What ``flyte-iap proxy`` serves with, from its command line: the checked settings and
    the tokens, the first one fetched (a person logs in now, before anything listens).
    Needs aiohttp, which the caller checked is installed."""
    from flyte_iap.google import check_url
    from flyte_iap.proxy import ProxySettings, TokenProvider, tls_context, token_source

    words = token_words(token_command, token_args, run.env, run.console.warn, written=False)
    if words.values.pop("verbose", False):
        run.verbose = True
    request = token_request(token_command, words.values, warn=run.console.warn)
    host, port = listen_address(listen)
    base = check_url(upstream.rstrip("/"), source="--upstream")
    if ca_file is not None:
        try:
            tls_context(ca_file)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise UsageError(
                f"--ca-file {shown(ca_file)}: not a readable PEM file ({exc})"
            ) from None
    store = run.user_store(getattr(request, "cache", "file"))
    first, fetch = token_source(request, run.services, store, run.login_ui())
    token = first()  # a person logs in now, before anything listens
    margin = request.refresh_margin
    tokens = TokenProvider(fetch, margin=margin, clock=run.clock, console=run.console, first=token)
    return ProxySettings(base, host, port, ca_file), tokens


def listen_address(value: str) -> tuple[str, int]:
    """(where to bind, port) of ``--listen``: loopback only, named literally. ``localhost``
    and ``127.0.0.1`` both stand for the two loopback addresses (``LOCALHOST``). Needs
    aiohttp, which the caller checked is installed."""
    from flyte_iap.proxy import LOCALHOST

    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"--listen {shown(value)!r}: use HOST:PORT, like localhost:8080")
    if not is_loopback(host):
        raise UsageError(
            f"--listen {shown(value)!r}: not a loopback address; the proxy hands out your "
            "credentials, so it listens on localhost, 127.x.y.z or [::1] only"
        )
    # 127.0.0.1 too: the address earlier versions took for "the proxy on localhost".
    if host.lower() in ("localhost", "127.0.0.1"):
        return LOCALHOST, int(port_text)
    return host.strip("[]"), int(port_text)
