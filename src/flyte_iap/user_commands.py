"""The commands of a person's login: generate-user-id-token, login, logout, status."""

from __future__ import annotations

import os
import time
from typing import Any

import click

from flyte_iap.click_options import console_for, http_client, with_options
from flyte_iap.options import USER_OPTIONS, VERBOSE, Option


def user_request(values: dict[str, Any], *, force_login: bool) -> Any:
    """A UserRequest from the parsed options, after the checks that need no network."""
    from flyte_iap.errors import UsageError
    from flyte_iap.user_token import UserRequest

    secret = values["desktop_client_secret"] or os.environ.get("FLYTE_IAP_DESKTOP_CLIENT_SECRET")
    if not secret and not (values["desktop_client_secret_gcp_secret_name"] and values["project"]):
        raise UsageError(
            "give --desktop_client_secret_gcp_secret_name and --project (the secret in Secret "
            "Manager), or --desktop_client_secret"
        )
    if values["cache"] not in ("file", "keyring"):
        raise UsageError(f"--cache is {values['cache']!r}: use 'file' or 'keyring'")
    return UserRequest(
        desktop_client_id=values["desktop_client_id"],
        audience=values["webapp_client_id"],
        secret_name=values["desktop_client_secret_gcp_secret_name"],
        project=values["project"],
        client_secret=values["desktop_client_secret"],
        no_browser=values["no_browser"],
        port=values["port"] or 0,
        login_timeout=values["timeout"],
        refresh_margin=values["refresh_margin"],
        force_login=force_login,
    )


def run_user_flow(values: dict[str, Any], *, force_login: bool) -> Any:
    """Resolve the user's token with the real seams (cache, HTTP, terminal, browser)."""
    from flyte_iap.browser import open_browser
    from flyte_iap.cache import TokenCache, default_cache_dir
    from flyte_iap.login_flow import LoginUi
    from flyte_iap.terminal import Terminal
    from flyte_iap.user_store import UserStore
    from flyte_iap.user_token import get_user_token

    request = user_request(values, force_login=force_login)
    console = console_for(values["verbose"])
    cache = TokenCache(default_cache_dir(os.environ), warn=console.warn)
    store = UserStore(cache, values["cache"], console.warn)
    ui = LoginUi(Terminal(), open_browser)
    return get_user_token(request, os.environ, store, http_client(console), console, ui)


@click.command("generate-user-id-token")
@with_options(USER_OPTIONS)
def generate_user_id_token(**values: Any) -> None:
    """Print a person's ID token for IAP: cached, refreshed, or from a browser login."""
    click.echo(run_user_flow(values, force_login=False).id_token)


@click.command("login")
@with_options(USER_OPTIONS)
def login(**values: Any) -> None:
    """Log in in the browser now (even with a valid cached login); prints nothing on stdout."""
    tokens = run_user_flow(values, force_login=True)
    left = (tokens.expiry - time.time()) / 60
    click.echo(f"flyte-iap: token cached; it expires in {left:.0f} min", err=True)


LOGOUT_OPTIONS = (
    Option("desktop_client_id", "Desktop OAuth client ID of the login to remove.", required=True),
    Option("webapp_client_id", "Webapp (IAP) client ID of the login to remove.", required=True),
)


@click.command("logout")
@with_options((*LOGOUT_OPTIONS, VERBOSE))
def logout(desktop_client_id: str, webapp_client_id: str, verbose: bool) -> None:
    """Revoke the saved refresh token at Google and delete the cached login."""
    from flyte_iap.cache import TokenCache, default_cache_dir
    from flyte_iap.config import Endpoints
    from flyte_iap.errors import FlyteIapError
    from flyte_iap.lookup import user_entry_name
    from flyte_iap.user_oauth import UserClient
    from flyte_iap.user_store import UserStore

    console = console_for(verbose)
    cache = TokenCache(default_cache_dir(os.environ), warn=console.warn)
    store = UserStore(cache, "file", console.warn)
    name = user_entry_name(desktop_client_id, webapp_client_id)
    entry = store.load(name)
    if entry is None:
        console.say(f"flyte-iap: no saved login for {desktop_client_id} / {webapp_client_id}")
        return
    refresh_token = entry.get("refresh_token")
    problem = None
    if isinstance(refresh_token, str) and refresh_token:
        endpoints = Endpoints.from_env(os.environ)
        client = UserClient(desktop_client_id, webapp_client_id, endpoints, http_client(console))
        try:
            client.revoke(refresh_token)
        except FlyteIapError as exc:
            problem = exc
    store.delete(name)
    if problem is not None:
        raise type(problem)(
            f"deleted the saved login of {entry.get('email')}, but {problem}\n"
            "Revoke it at https://myaccount.google.com/permissions if it matters."
        )
    console.say(
        f"flyte-iap: logged out {entry.get('email')} (refresh token revoked, cache deleted)"
    )


@click.command("status")
def status() -> None:
    """List the cached identities: email, audience, expiry. Never a secret."""
    from flyte_iap.cache import TokenCache, default_cache_dir

    cache = TokenCache(default_cache_dir(os.environ))
    rows = []
    for name in cache.names():
        entry = cache.load(name)
        if not entry or entry.get("kind") not in ("user", "service_account"):
            continue
        who = entry.get("email") or entry.get("principal") or "?"
        expiry = entry.get("expiry")
        left = (float(expiry) - time.time()) / 60 if isinstance(expiry, int | float) else None
        when = "expired" if left is None or left <= 0 else f"expires in {left:.0f} min"
        if entry["kind"] == "user":
            saved = (
                "refresh token saved"
                if entry.get("refresh_token") or entry.get("secrets_in")
                else "no refresh token"
            )
            rows.append(
                f"user             {who}  audience={entry.get('audience')}  "
                f"desktop={entry.get('desktop_client_id')}  {when}  {saved}"
            )
        else:
            rows.append(f"service account  {who}  audience={entry.get('audience')}  {when}")
    if not rows:
        click.echo(f"no cached identities in {cache.directory}", err=True)
        return
    click.echo(f"cache: {cache.directory}", err=True)
    for row in rows:
        click.echo(row)
