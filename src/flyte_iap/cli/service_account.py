"""``generate-service-account-id-token``."""

from __future__ import annotations

import click

from flyte_iap.cli.options import (
    SERVICE_ACCOUNT_OPTIONS,
    SERVICE_ACCOUNT_TOKEN_COMMAND,
    token_request,
)
from flyte_iap.cli.params import click_options, wiring


@click.command(SERVICE_ACCOUNT_TOKEN_COMMAND)
@click_options(SERVICE_ACCOUNT_OPTIONS)
def generate_service_account_id_token(**values: object) -> None:
    """Print an ID token of a service account for IAP (cached until near expiry)."""
    from flyte_iap.tokens import ServiceAccountRequest, get_service_account_token

    request = token_request(SERVICE_ACCOUNT_TOKEN_COMMAND, values)
    assert isinstance(request, ServiceAccountRequest)
    click.echo(get_service_account_token(request, wiring().services).id_token)
