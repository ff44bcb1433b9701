"""Use case: forget a person's login, here and at Google."""

from __future__ import annotations

from flyte_iap.cache import UserStore, user_entry_name
from flyte_iap.errors import FlyteIapError
from flyte_iap.google import Endpoints, UserClient
from flyte_iap.tokens.services import Services


def log_out(
    desktop_client_id: str, audience: str, services: Services, store: UserStore
) -> str | None:
    """Revoke the saved refresh token and delete the cached login; the email logged out,
    or None when there was no saved login.

    The login is deleted even when the revocation fails, which is then raised.
    """
    name = user_entry_name(desktop_client_id, audience)
    entry = store.load(name)
    if entry is None:
        return None
    problem: FlyteIapError | None = None
    if entry.refresh_token:
        client = UserClient(
            desktop_client_id, audience, Endpoints.from_env(services.env), services.http
        )
        try:
            client.revoke(entry.refresh_token)
        except FlyteIapError as exc:
            problem = exc
    store.delete(name)
    if problem is not None:
        raise problem.reworded(
            f"deleted the saved login of {entry.email}, but {problem}\n"
            "Revoke it at https://myaccount.google.com/permissions if it matters."
        )
    return entry.email
