"""A person's commands: ``generate-user-id-token``, ``login``, ``logout``."""

from __future__ import annotations

import click

from flyte_iap.cli.options import LOGOUT_OPTIONS, USER_OPTIONS, USER_TOKEN_COMMAND, token_request
from flyte_iap.cli.params import click_options, wiring
from flyte_iap.errors import shown


def _user_command(name: str, *, force_login: bool, summary: str) -> click.Command:
    """The two commands that get a person's token: the same options, other outputs."""

    @click.command(name, help=summary)
    @click_options(USER_OPTIONS)
    def command(**values: object) -> None:
        from flyte_iap.tokens import UserRequest, get_user_token

        run = wiring()
        request = token_request(
            USER_TOKEN_COMMAND, values, force_login=force_login, warn=run.console.warn
        )
        assert isinstance(request, UserRequest)
        entry = get_user_token(request, run.services, run.user_store(request.cache), run.login_ui())
        if not force_login:
            click.echo(entry.id_token)
            return
        left = (entry.expiry - run.clock()) / 60
        click.echo(f"flyte-iap: token cached; it expires in {left:.0f} min", err=True)

    return command


generate_user_id_token = _user_command(
    USER_TOKEN_COMMAND,
    force_login=False,
    summary="Print a person's ID token for IAP: cached, refreshed, or from a browser login.",
)
login = _user_command(
    "login",
    force_login=True,
    summary="Log in in the browser now (even with a valid cached login); prints nothing on stdout.",
)


@click.command("logout")
@click_options(LOGOUT_OPTIONS)
def logout(desktop_client_id: str, webapp_client_id: str) -> None:
    """Revoke the saved refresh token at Google and delete the cached login."""
    from flyte_iap.tokens import log_out

    run = wiring()
    email = log_out(desktop_client_id, webapp_client_id, run.services, run.user_store("file"))
    if email is None:
        run.console.say(f"flyte-iap: no saved login for {desktop_client_id} / {webapp_client_id}")
        return
    run.console.say(f"flyte-iap: logged out {shown(email)} (refresh token revoked, cache deleted)")
