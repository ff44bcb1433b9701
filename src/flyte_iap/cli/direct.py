"""A token command on a cache miss, run without click: the options the fast path read
(``options.parse_simple``) become the command's request, its use case runs, and a
failure is reported as the command line reports it (``report``). A first fetch in CI
pays neither for click nor for building its command tree. Anything the fast path does
not read (``--help``, ``-v``, an unknown option) is left to click, which says what is
wrong with it."""

from __future__ import annotations

import sys

from flyte_iap.cli.options import TOKEN_COMMANDS, parse_simple, token_request
from flyte_iap.cli.report import reported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flyte_iap.cli.wiring import Wiring


def token_command(args: list[str], wiring: Wiring | None = None) -> int | None:
    """Run ``args`` if they are a token command the fast path reads; its exit code, or
    None to leave them to click."""
    if not args or args[0] not in TOKEN_COMMANDS:
        return None
    values = parse_simple(args[1:], TOKEN_COMMANDS[args[0]])
    if values is None or values.get("verbose") or values.get("service_account_key") == "":
        return None
    from flyte_iap.cli.wiring import Wiring

    run = wiring or Wiring()
    try:
        request = token_request(args[0], values, warn=run.console.warn)
        token = _token(request, run)
    except (Exception, KeyboardInterrupt) as exc:
        return reported(exc, verbose=False)
    sys.stdout.write(token + "\n")
    sys.stdout.flush()
    return 0


def _token(request: object, run: Wiring) -> str:
    from flyte_iap.tokens import (
        ServiceAccountRequest,
        UserRequest,
        get_service_account_token,
        get_user_token,
    )

    if isinstance(request, ServiceAccountRequest):
        return get_service_account_token(request, run.services).id_token
    assert isinstance(request, UserRequest)
    store = run.user_store(request.cache)
    return get_user_token(request, run.services, store, run.login_ui()).id_token
