"""Use case: a person's ID token for IAP.

1. a cached ID token with more than the margin left: print it, no network;
2. else a cached refresh token: refresh with ``audience``, no browser;
3. else, or when the refresh token is revoked (``invalid_grant``): log in
   in the browser. A transient failure (timeout, 5xx) keeps the refresh token
   and every other cached credential: a network blip must not cost a login.
"""

from __future__ import annotations

from flyte_iap.cache import Entry, UserEntry, UserStore
from flyte_iap.errors import FlyteIapError, OAuthError, TransportError, shown
from flyte_iap.google import Endpoints, UserClient, UserTokens
from flyte_iap.tokens.client_secret import ClientSecret, explicit_secret, require_a_source
from flyte_iap.tokens.fresh import fresh_or_fetch
from flyte_iap.tokens.request import UserRequest
from flyte_iap.tokens.services import Services
from flyte_iap.transport import RETRYABLE_STATUS, HttpClient

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login loads only when a browser login is needed
    from flyte_iap.login import Authorization, LoginUi
    from flyte_iap.tokens.fresh import Fetch

# Slack on top of the login timeout for a process waiting on another's login.
LOCK_SLACK = 60.0
# The browser tab waits for the code exchange at most this long, however slow the
# token endpoint's tries are allowed to be (a hung exchange never holds it forever).
EXCHANGE_WAIT_CAP = 120.0
# The longest sleep between two tries (transport honours a Retry-After up to 10 s).
_LONGEST_BACKOFF = 10.0


def get_user_token(
    request: UserRequest, services: Services, store: UserStore, ui: LoginUi
) -> UserEntry:
    """A fresh ID token: cached, refreshed, or from a browser login (in that order).

    ``store`` keeps the login (its secrets in the file cache or the OS keyring);
    ``ui`` is where a login shows its URL and opens the browser.
    """
    explicit = explicit_secret(request.client_secret, services.env)
    require_a_source(explicit, request.secret_name, request.project)

    def plan() -> Fetch:
        return _Renewal(request, services, store, ui).renew

    entry = fresh_or_fetch(
        services.cache,
        request.cache_key,
        margin=request.refresh_margin,
        clock=services.clock,
        wait=request.login_timeout + LOCK_SLACK,
        plan=plan,
        load=store.load,
        save=lambda e: store.save(_as_user(e)),
        force=request.force_login,
        debug=services.console.debug,
    )
    return _as_user(entry)


class _Renewal:
    """Renewing one person's login, under the cache lock: refresh, else log in."""

    def __init__(
        self, request: UserRequest, services: Services, store: UserStore, ui: LoginUi
    ) -> None:
        self.request = request
        self.services = services
        self.store = store
        self.ui = ui
        self.endpoints = Endpoints.from_env(services.env)
        self.client = UserClient(
            request.desktop_client_id, request.audience, self.endpoints, services.http,
            services.clock,
        )  # fmt: skip

    def renew(self, current: Entry | None) -> Entry:
        saved = current if isinstance(current, UserEntry) else None
        secret = self._secret(saved)
        if saved and saved.refresh_token and not self.request.force_login:
            refreshed = self._refresh(saved, secret)
            if refreshed is not None:
                return refreshed
        tokens = self._log_in(secret)
        return self._entry(tokens, tokens.refresh_token, secret)

    def _refresh(self, saved: UserEntry, secret: ClientSecret) -> UserEntry | None:
        """The refreshed login; the saved one on a blip; None when it is dead at Google."""
        console = self.services.console
        try:
            tokens = secret.use(lambda s: self.client.refresh(saved.refresh_token, s))
        except OAuthError as exc:
            if exc.status in RETRYABLE_STATUS:
                return self._keep_on_blip(saved, exc)
            if exc.error != "invalid_grant":
                raise
            console.say(
                "flyte-iap: the saved login is no longer valid (revoked, expired or "
                "reauthentication required); logging in again"
            )
            self.store.save(saved.without_refresh_token())
            return None
        except TransportError as exc:
            return self._keep_on_blip(saved, exc)
        return self._entry(tokens, tokens.refresh_token or saved.refresh_token, secret)

    def _keep_on_blip(self, saved: UserEntry, exc: FlyteIapError) -> UserEntry:
        """A network blip or a 5xx: keep every cached credential (nothing is written), and
        hand back the cached ID token while it has not expired yet."""
        if saved.is_fresh(0, self.services.clock()):
            self.services.console.warn(
                "warning: could not refresh the login (network or server error); using the "
                "cached token, which expires soon"
            )
            return saved
        raise exc

    def _log_in(self, secret: ClientSecret) -> UserTokens:
        """A browser login whose code is exchanged while the tab waits for the outcome.

        The secret is read first (a missing one fails before anyone logs in); after an
        ``invalid_client`` it is read again and the same code exchanged once more.
        """
        from flyte_iap.login import LoginSettings, authorize

        request = self.request
        settings = LoginSettings(
            auth_uri=self.endpoints.auth_uri,
            client_id=request.desktop_client_id,
            audience=request.audience,
            port=request.port,
            no_browser=request.no_browser,
            timeout=request.login_timeout,
            retry_command=request.login_command,
            exchange_wait=_exchange_wait(self.services.http),
        )
        secret.get()

        def exchange(grant: Authorization) -> UserTokens:
            return secret.use(
                lambda value: self.client.exchange_code(
                    grant.code, grant.verifier, grant.redirect_uri, value, grant.nonce
                )
            )

        tokens = authorize(settings, self.ui, self.services.console, exchange)
        self.ui.terminal.show(f"flyte-iap: logged in as {shown(tokens.email)}")
        return tokens

    def _secret(self, saved: UserEntry | None) -> ClientSecret:
        services = self.services

        def from_secret_manager(project: str, name: str) -> str:
            from flyte_iap.google import read_secret

            services.console.debug(f"reading the desktop client secret {name} from Secret Manager")
            return read_secret(project, name, services.env, self.endpoints, services.http)

        return ClientSecret(
            explicit=explicit_secret(self.request.client_secret, services.env),
            cached=saved.client_secret if saved else None,
            secret_name=self.request.secret_name,
            project=self.request.project,
            fetch=from_secret_manager,
        )

    def _entry(
        self, tokens: UserTokens, refresh_token: str | None, secret: ClientSecret
    ) -> UserEntry:
        return UserEntry(
            desktop_client_id=self.request.desktop_client_id,
            audience=self.request.audience,
            email=tokens.email,
            id_token=tokens.id_token,
            expiry=tokens.expiry,
            fetched_at=int(self.services.clock()),
            refresh_token=refresh_token or "",
            client_secret=secret.cacheable or "",
        )


def _exchange_wait(http: HttpClient) -> float:
    """How long the tab may wait for the code exchange: every try of the token request
    with the longest backoff between them, capped."""
    return min(EXCHANGE_WAIT_CAP, http.tries * (http.timeout + _LONGEST_BACKOFF))


def _as_user(entry: Entry) -> UserEntry:
    # The user key names user entries only, and the cache serves an entry from its own
    # file only (TokenCache.load): nothing else can come back here.
    assert isinstance(entry, UserEntry), entry
    return entry
