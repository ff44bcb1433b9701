"""Use case: a person's ID token for IAP (SPEC §1 "User accounts").

1. a cached ID token with more than the margin left: print it, no network;
2. else a cached refresh token: refresh with ``audience``, no browser;
3. else, or when the refresh token is revoked (``invalid_grant``): log in
   in the browser. A transient failure (timeout, 5xx) keeps the refresh token
   and every other cached credential: a network blip must not cost a login.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flyte_iap.cache import is_fresh
from flyte_iap.config import Endpoints
from flyte_iap.console import Console
from flyte_iap.errors import OAuthError, TransportError, UsageError
from flyte_iap.http import RETRYABLE_STATUS, HttpClient
from flyte_iap.login_flow import LoginUi, browser_login
from flyte_iap.lookup import user_entry_name
from flyte_iap.user_oauth import UserClient, UserTokens
from flyte_iap.user_store import UserStore

# Slack on top of the login timeout for a process waiting on another's login.
LOCK_SLACK = 60.0


@dataclass(frozen=True)
class UserRequest:
    desktop_client_id: str
    audience: str
    secret_name: str | None = None
    project: str | None = None
    client_secret: str | None = None
    no_browser: bool = False
    port: int = 0
    login_timeout: float = 300.0
    refresh_margin: float = 300.0
    force_login: bool = False

    @property
    def cache_name(self) -> str:
        return user_entry_name(self.desktop_client_id, self.audience)


class ClientSecret:
    """The desktop client secret, fetched only when the token endpoint needs it.

    Order: ``--desktop_client_secret`` / FLYTE_IAP_DESKTOP_CLIENT_SECRET, the copy
    cached beside the refresh token, Secret Manager. ``reread`` goes back to
    Secret Manager once, after the token endpoint said ``invalid_client``.
    """

    def __init__(
        self,
        request: UserRequest,
        explicit: str | None,
        cached: str | None,
        fetch: Callable[[str, str], str],
    ) -> None:
        self.explicit = explicit
        self._request = request
        self._cached = cached
        self._fetch = fetch
        self.value: str | None = None
        self.reread_done = False

    def get(self) -> str:
        if self.value is None:
            self.value = self.explicit or self._cached or self._from_secret_manager()
        return self.value

    def reread(self) -> bool:
        """Fetch again from Secret Manager; False if that cannot change anything."""
        if self.explicit or self.reread_done or not self._request.secret_name:
            return False
        self.reread_done = True
        self.value = self._from_secret_manager()
        return True

    def _from_secret_manager(self) -> str:
        name, project = self._request.secret_name, self._request.project
        if not name or not project:
            raise UsageError(
                "the desktop client secret is needed: pass --desktop_client_secret_gcp_secret_name "
                "and --project, or --desktop_client_secret"
            )
        return self._fetch(project, name)


def get_user_token(
    request: UserRequest,
    env: Mapping[str, str],
    store: UserStore,
    http: HttpClient,
    console: Console,
    ui: LoginUi,
) -> UserTokens:
    """A fresh ID token: cached, refreshed, or from a browser login (in that order)."""
    name = request.cache_name
    entry = store.cache.load(name)
    if not request.force_login and entry and is_fresh(entry, request.refresh_margin):
        return _from_entry(entry)
    endpoints = Endpoints.from_env(env)
    client = UserClient(request.desktop_client_id, request.audience, endpoints, http)
    with store.cache.lock(name, request.login_timeout + LOCK_SLACK):
        entry = store.load(name) or {}
        if not request.force_login and is_fresh(entry, request.refresh_margin):
            console.debug("another process logged in meanwhile; using its token")
            return _from_entry(entry)

        def fetch_secret(project: str, secret_name: str) -> str:
            from flyte_iap.sources.secret_manager import read_secret

            console.debug(f"reading the desktop client secret {secret_name} from Secret Manager")
            return read_secret(project, secret_name, env, endpoints, http)

        explicit = request.client_secret or env.get("FLYTE_IAP_DESKTOP_CLIENT_SECRET") or None
        cached_secret = entry.get("client_secret")
        secret = ClientSecret(
            request,
            explicit,
            cached_secret if isinstance(cached_secret, str) else None,
            fetch_secret,
        )
        refresh_token = entry.get("refresh_token")
        if isinstance(refresh_token, str) and refresh_token and not request.force_login:
            try:
                tokens = _with_secret(secret, lambda s: client.refresh(refresh_token, s))
            except OAuthError as exc:
                if exc.status in RETRYABLE_STATUS:
                    return _keep_on_blip(entry, console, exc)
                if exc.error != "invalid_grant":
                    raise
                console.say(
                    "flyte-iap: the saved login is no longer valid (revoked, expired or "
                    "reauthentication required); logging in again"
                )
                store.save(
                    name, {k: v for k, v in entry.items() if k not in ("refresh_token", "v")}
                )
            except TransportError as exc:
                return _keep_on_blip(entry, console, exc)
            else:
                _save(store, name, request, tokens, tokens.refresh_token or refresh_token, secret)
                return tokens
        tokens = _with_secret(
            secret, lambda s: browser_login(request, endpoints, client, s, ui, console)
        )
        _save(store, name, request, tokens, tokens.refresh_token, secret)
        return tokens


def _keep_on_blip(entry: Mapping[str, Any], console: Console, exc: Exception) -> UserTokens:
    """A network blip or a 5xx: keep every cached credential (nothing is written), and
    hand back the cached ID token while it has not expired yet."""
    if is_fresh(entry, 0):
        console.warn(
            "warning: could not refresh the login (network or server error); using the cached "
            "token, which expires soon"
        )
        return _from_entry(entry)
    raise exc


def _from_entry(entry: Mapping[str, Any]) -> UserTokens:
    claims = {"exp": entry.get("expiry"), "email": entry.get("email")}
    return UserTokens(str(entry["id_token"]), claims, None)


def _with_secret(secret: ClientSecret, call: Callable[[str], UserTokens]) -> UserTokens:
    """Run ``call`` with the secret; after ``invalid_client``, re-read it once and retry."""
    try:
        return call(secret.get())
    except OAuthError as exc:
        if exc.error != "invalid_client":
            raise
        if secret.reread():
            return call(secret.get())
        raise OAuthError(
            f"{exc}\nThe desktop client secret does not belong to the desktop client id: check "
            "both (and the Secret Manager secret).",
            error=exc.error,
            status=exc.status,
        ) from exc


def _save(
    store: UserStore,
    name: str,
    request: UserRequest,
    tokens: UserTokens,
    refresh_token: str | None,
    secret: ClientSecret,
) -> None:
    entry: dict[str, Any] = {
        "kind": "user",
        "desktop_client_id": request.desktop_client_id,
        "audience": request.audience,
        "email": tokens.email,
        "id_token": tokens.id_token,
        "expiry": tokens.expiry,
        "fetched_at": int(time.time()),
    }
    if refresh_token:
        entry["refresh_token"] = refresh_token
    # Cached beside the refresh token (SPEC §1 step 5) unless given explicitly:
    # then it stays the caller's to keep.
    if secret.value and not secret.explicit:
        entry["client_secret"] = secret.value
    store.save(name, entry)
