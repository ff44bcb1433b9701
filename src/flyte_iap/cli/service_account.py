"""``generate-service-account-id-token``."""

from __future__ import annotations

import click

from flyte_iap.cli.options import SERVICE_ACCOUNT_OPTIONS, SERVICE_ACCOUNT_TOKEN_COMMAND
from flyte_iap.cli.params import click_options, wiring


@click.command(SERVICE_ACCOUNT_TOKEN_COMMAND)
@click_options(SERVICE_ACCOUNT_OPTIONS)
def generate_service_account_id_token(
    webapp_client_id: str,
    service_account_key: str | None,
    impersonate_service_account: str | None,
    refresh_margin: float,
) -> None:
    """Print an ID token of a service account for IAP (cached until near expiry)."""
    from flyte_iap.tokens.service_account import ServiceAccountRequest, get_service_account_token

    request = ServiceAccountRequest(
        audience=webapp_client_id,
        key_path=service_account_key,
        impersonate=impersonate_service_account,
        refresh_margin=refresh_margin,
    )
    click.echo(get_service_account_token(request, wiring().services).id_token)
