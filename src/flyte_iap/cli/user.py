"""A person's commands: ``generate-user-id-token``, ``login``, ``logout``."""

from __future__ import annotations

import shlex

import click

from flyte_iap.cli.options import (
    CLIENT_SECRET,
    DESKTOP_CLIENT_ID,
    LOGOUT_OPTIONS,
    PROJECT,
    SECRET_NAME,
    USER_OPTIONS,
    USER_TOKEN_COMMAND,
    WEBAPP_CLIENT_ID,
)
from flyte_iap.cli.params import click_options, wiring
from flyte_iap.cli.wiring import Wiring
from flyte_iap.errors import UsageError, shown
from flyte_iap.tokens.user import UserRequest, get_user_token


def _user_command(name: str, *, force_login: bool, summary: str) -> click.Command:
    """The two commands that get a person's token: the same options, other outputs."""

    @click.command(name, help=summary)
    @click_options(USER_OPTIONS)
    def command(
        desktop_client_id: str,
        desktop_client_secret_gcp_secret_name: str | None,
        webapp_client_id: str,
        project: str | None,
        desktop_client_secret: str | None,
        no_browser: bool,
        port: int | None,
        timeout: float,
        cache: str,
        refresh_margin: float,
    ) -> None:
        run = wiring()
        request = user_request(
            run,
            desktop_client_id=desktop_client_id,
            audience=webapp_client_id,
            secret_name=desktop_client_secret_gcp_secret_name,
            project=project,
            client_secret=desktop_client_secret,
            no_browser=no_browser,
            port=port or 0,
            timeout=timeout,
            cache=cache,
            refresh_margin=refresh_margin,
            force_login=force_login,
        )
        entry = get_user_token(request, run.services, run.user_store(cache), run.login_ui())
        if not force_login:
            click.echo(entry.id_token)
            return
        left = (entry.expiry - run.clock()) / 60
        click.echo(f"flyte-iap: token cached; it expires in {left:.0f} min", err=True)

    return command


def user_request(
    run: Wiring,
    *,
    desktop_client_id: str,
    audience: str,
    secret_name: str | None,
    project: str | None,
    client_secret: str | None,
    no_browser: bool,
    port: int,
    timeout: float,
    cache: str,
    refresh_margin: float,
    force_login: bool = False,
) -> UserRequest:
    """The request of a person's token from the command line's values (the token commands
    and ``proxy``): ``--cache`` checked, and a warning for a secret given on it."""
    if cache not in ("file", "keyring"):
        raise UsageError(f"--cache is {shown(cache)!r}: use 'file' or 'keyring'")
    if client_secret:
        run.console.warn(
            "warning: --desktop_client_secret can be read by every user of this machine "
            "(ps, /proc); set FLYTE_IAP_DESKTOP_CLIENT_SECRET instead, or use Secret Manager"
        )
    return UserRequest(
        desktop_client_id=desktop_client_id,
        audience=audience,
        secret_name=secret_name,
        project=project,
        client_secret=client_secret,
        no_browser=no_browser,
        port=port,
        login_timeout=timeout,
        refresh_margin=refresh_margin,
        force_login=force_login,
        login_command=login_command_for(
            desktop_client_id, audience, secret_name, project, client_secret
        ),
    )


def login_command_for(
    desktop_client_id: str,
    audience: str,
    secret_name: str | None,
    project: str | None,
    client_secret: str | None,
) -> str:
    """The ``flyte-iap login`` a person should run in a terminal (never with the secret)."""
    args = [
        "flyte-iap",
        "login",
        DESKTOP_CLIENT_ID.spellings[0],
        desktop_client_id,
        WEBAPP_CLIENT_ID.spellings[0],
        audience,
    ]
    if secret_name and project:
        args += [SECRET_NAME.spellings[0], secret_name, PROJECT.spellings[0], project]
    if client_secret:
        args += [CLIENT_SECRET.spellings[0], "..."]
    return shlex.join(args)


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
    from flyte_iap.tokens.logout import logout as forget

    run = wiring()
    email = forget(desktop_client_id, webapp_client_id, run.services, run.user_store("file"))
    if email is None:
        run.console.say(f"flyte-iap: no saved login for {desktop_client_id} / {webapp_client_id}")
        return
    run.console.say(f"flyte-iap: logged out {shown(email)} (refresh token revoked, cache deleted)")
