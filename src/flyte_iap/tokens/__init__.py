"""The use cases, one per command, with no command line in them.

- ``request``: what a token command asks for (:class:`ServiceAccountRequest`,
  :class:`UserRequest`), the cache entry that answers it (:class:`CacheKey`) and
  whether that entry is fresh (:func:`fresh_entry`): light, the fast path's whole
  question;
- ``fresh``: :func:`fresh_or_fetch`, the one way a token is served from the cache or
  fetched into it (lock, load, fresh?, fetch, store);
- ``service_account``: :func:`get_service_account_token`;
- ``user``: :func:`get_user_token` (cached, refreshed, or a browser login), with
  ``client_secret`` (where the desktop client's secret comes from);
- ``logout``: :func:`log_out`;
- ``services``: :class:`Services`, the seams a use case is handed.

Each module loads when one of its names is first used (``flyte_iap.faces``): the fast
path reads ``request`` alone.
"""

from flyte_iap.faces import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flyte_iap.tokens.fresh import fresh_or_fetch
    from flyte_iap.tokens.logout import log_out
    from flyte_iap.tokens.request import (
        CacheKey,
        ServiceAccountRequest,
        UserRequest,
        fresh_entry,
    )
    from flyte_iap.tokens.service_account import LOCK_WAIT, get_service_account_token, lock_wait
    from flyte_iap.tokens.services import Services
    from flyte_iap.tokens.user import get_user_token

__all__ = [
    "LOCK_WAIT",
    "CacheKey",
    "ServiceAccountRequest",
    "Services",
    "UserRequest",
    "fresh_entry",
    "fresh_or_fetch",
    "get_service_account_token",
    "get_user_token",
    "lock_wait",
    "log_out",
]
__getattr__, __dir__ = lazy(
    __name__,
    {
        "fresh_or_fetch": "fresh",
        "log_out": "logout",
        "CacheKey": "request",
        "ServiceAccountRequest": "request",
        "UserRequest": "request",
        "fresh_entry": "request",
        "LOCK_WAIT": "service_account",
        "get_service_account_token": "service_account",
        "lock_wait": "service_account",
        "Services": "services",
        "get_user_token": "user",
    },
)
