"""``status``: the cached identities, never a token or secret."""

from __future__ import annotations

import click

from flyte_iap.cache import UserEntry
from flyte_iap.cli.params import wiring
from flyte_iap.errors import shown


@click.command("status")
def status() -> None:
    """List the cached identities: email, audience, expiry. Never a secret."""
    run = wiring()
    cache, now = run.cache, run.clock()
    rows = []
    for entry in cache.entries():
        left = (entry.expiry - now) / 60
        when = "expired" if left <= 0 else f"expires in {left:.0f} min"
        if isinstance(entry, UserEntry):
            saved = (
                "refresh token saved"
                if entry.refresh_token or entry.secrets_in
                else "no refresh token"
            )
            rows.append(
                f"user             {shown(entry.who)}  audience={shown(entry.audience)}  "
                f"desktop={shown(entry.desktop_client_id)}  {when}  {saved}"
            )
        else:
            rows.append(
                f"service account  {shown(entry.who)}  audience={shown(entry.audience)}  {when}"
            )
    if not rows:
        click.echo(f"no cached identities in {cache.directory}", err=True)
        return
    click.echo(f"cache: {cache.directory}", err=True)
    for row in rows:
        click.echo(row)
