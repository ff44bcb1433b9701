"""What a token command asks for, typed; which cache entry answers it, and whether it is
fresh. No network, no heavy imports.

The requests are built once per command from its options (``cli.options.token_request``),
whichever reader parsed them: click, the fast path, or a ``proxyCommand``'s words. The
fast path asks :meth:`~ServiceAccountRequest.cache_key` and :func:`fresh_entry` before
click is even imported; the use cases ask them before and after they take the cache
lock: keeping both here is what lets them agree. Plain classes, not dataclasses:
``dataclasses`` would cost the fast path more than the whole lookup.
"""

from __future__ import annotations

import os

from flyte_iap.cache import (
    entry_name,
    metadata_lock_name,
    service_account_entry_name,
    user_entry_name,
)
from flyte_iap.google.adc import principal_of, read_info, source_id, well_known_adc_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_iap.cache import Entry, TokenCache

#: Seconds a cached token must have left to be served (``--refresh_margin``).
DEFAULT_MARGIN = 300.0
#: Seconds a browser login may take (``--timeout``).
DEFAULT_LOGIN_TIMEOUT = 300.0
#: Where a person's login is kept (``--cache``).
CACHE_BACKENDS = ("file", "keyring")
_FOREVER = float("inf")  # a margin no cached token has left


class CacheKey:
    """The entry a request is answered from (``name``; None while the principal is not
    known without asking the network), and the lock that concurrent requests share."""

    __slots__ = ("lock", "name")

    def __init__(self, name: str | None, lock: str) -> None:
        self.name = name
        self.lock = lock


class ServiceAccountRequest:
    """A service account's ID token for ``audience``: from the key file ``key_path`` (else
    GOOGLE_APPLICATION_CREDENTIALS, else the metadata server), or of ``impersonate``
    through IAM Credentials with those as the caller."""

    __slots__ = ("audience", "impersonate", "key_path", "refresh_margin")

    def __init__(
        self,
        audience: str,
        key_path: str | None = None,
        impersonate: str | None = None,
        refresh_margin: float = DEFAULT_MARGIN,
    ) -> None:
        if impersonate is not None and "@" not in impersonate:
            from flyte_iap.errors import UsageError

            raise UsageError(
                f"--impersonate_service_account {impersonate!r} is not a service-account "
                "email (like name@project.iam.gserviceaccount.com)"
            )
        self.audience = audience
        self.key_path = key_path
        self.impersonate = impersonate
        self.refresh_margin = refresh_margin

    def cache_key(self, env: Mapping[str, str], cache: TokenCache) -> CacheKey:
        return service_account_key(self.audience, self.key_path, self.impersonate, env, cache)

    def renewing(self) -> ServiceAccountRequest:
        """The same request, answered by a new token even when the cached one is fresh."""
        return ServiceAccountRequest(self.audience, self.key_path, self.impersonate, _FOREVER)


class UserRequest:
    """A person's ID token for ``audience``, logged in with the desktop client
    ``desktop_client_id`` (its secret from ``client_secret`` or FLYTE_IAP_DESKTOP_CLIENT_SECRET,
    else Secret Manager's ``secret_name`` in ``project``). ``cache`` says where the login
    is kept (``file`` or ``keyring``); ``login_words`` is the command a person should run
    in a terminal when nobody can log in here."""

    __slots__ = (
        "audience",
        "cache",
        "client_secret",
        "desktop_client_id",
        "force_login",
        "login_timeout",
        "login_words",
        "no_browser",
        "port",
        "project",
        "refresh_margin",
        "secret_name",
    )

    def __init__(
        self,
        desktop_client_id: str,
        audience: str,
        *,
        secret_name: str | None = None,
        project: str | None = None,
        client_secret: str | None = None,
        no_browser: bool = False,
        port: int = 0,
        login_timeout: float = DEFAULT_LOGIN_TIMEOUT,
        refresh_margin: float = DEFAULT_MARGIN,
        cache: str = "file",
        force_login: bool = False,
        login_words: tuple[str, ...] = ("flyte-iap", "login"),
    ) -> None:
        if cache not in CACHE_BACKENDS:
            from flyte_iap.errors import UsageError, shown

            raise UsageError(f"--cache is {shown(cache)!r}: use 'file' or 'keyring'")
        self.desktop_client_id = desktop_client_id
        self.audience = audience
        self.secret_name = secret_name
        self.project = project
        self.client_secret = client_secret
        self.no_browser = no_browser
        self.port = port
        self.login_timeout = login_timeout
        self.refresh_margin = refresh_margin
        self.cache = cache
        self.force_login = force_login
        self.login_words = login_words

    @property
    def login_command(self) -> str:
        """``login_words`` as a command line to paste in a terminal."""
        import shlex

        return shlex.join(self.login_words)

    def cache_key(self) -> CacheKey:
        return user_key(self.desktop_client_id, self.audience)

    def replace(self, **changes: object) -> UserRequest:
        """A copy with ``changes`` (field names and values)."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        return UserRequest(**{**fields, **changes})

    def __repr__(self) -> str:  # never the secret
        return f"<UserRequest {self.desktop_client_id} for {self.audience}>"


def user_key(desktop_client_id: str, audience: str) -> CacheKey:
    name = user_entry_name(desktop_client_id, audience)
    return CacheKey(name, name)


def service_account_key(
    audience: str,
    key_path: str | None,
    impersonate: str | None,
    env: Mapping[str, str],
    cache: TokenCache,
) -> CacheKey:
    """The entry of a service-account token: by the account the request names, the
    account its key file names, or the account this machine's metadata server answered
    for before; and always by the credentials that obtain it (``adc.source_id``).

    The credentials are those ``_plan`` of the use case will use: the key option, else
    GOOGLE_APPLICATION_CREDENTIALS, else (to impersonate) gcloud's ADC, else the
    metadata server. A file that cannot be read names no entry: the use case says why.
    """
    path = key_path if key_path is not None else env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path and impersonate:
        adc = well_known_adc_path(env)
        path = adc if os.path.isfile(adc) else None
    if path:
        info = read_info(path)
        lock = entry_name("sa-file", os.path.abspath(path), audience)
        if info is None:
            return CacheKey(None, lock)
        via = source_id(info, env)
        principal = impersonate or principal_of(info)
        if not principal:  # a file that names no account: its path stands in, for the lock
            return CacheKey(None, lock)
        name = service_account_entry_name(principal, audience, via)
        return CacheKey(name, name)
    via = source_id(None, env)
    if impersonate:
        name = service_account_entry_name(impersonate, audience, via)
        return CacheKey(name, name)
    email = cache.metadata_email(via)
    lock = metadata_lock_name(via, audience)
    return CacheKey(service_account_entry_name(email, audience, via) if email else None, lock)


def fresh_entry(cache: TokenCache, name: str | None, margin: float, now: float) -> Entry | None:
    """The cached entry ``name`` if it has more than ``margin`` seconds left at ``now``."""
    entry = cache.load(name) if name else None
    return entry if entry is not None and entry.is_fresh(margin, now) else None
