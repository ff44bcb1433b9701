"""A person's browser login, up to the authorization code.

:func:`authorize` (``flow``) runs one login from plain :class:`LoginSettings` and a
:class:`LoginUi` (the :class:`Terminal` and the browser, ``open_browser``): PKCE and
random ``state`` and ``nonce`` (``pkce``), the :class:`LoopbackServer` that receives the
redirect (``loopback``), the pages the tab shows (``pages``). It ends with an
:class:`Authorization` (the code and what exchanging it needs), which the caller's
callback exchanges (Google's side) while the browser tab waits to show how that went.
The login knows neither the command line nor the token endpoint. Each module loads when
one of its names is first used (``flyte_iap.faces``): a person's refresh needs the
terminal, not the loopback server.
"""

from flyte_iap.faces import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flyte_iap.login.browser import open_browser
    from flyte_iap.login.flow import Authorization, LoginSettings, authorize
    from flyte_iap.login.loopback import DEFAULT_HOLD, LoopbackServer
    from flyte_iap.login.pkce import challenge_s256, new_verifier, random_token
    from flyte_iap.login.terminal import LoginUi, Terminal

__all__ = [
    "DEFAULT_HOLD",
    "Authorization",
    "LoginSettings",
    "LoginUi",
    "LoopbackServer",
    "Terminal",
    "authorize",
    "challenge_s256",
    "new_verifier",
    "open_browser",
    "random_token",
]
__getattr__, __dir__ = lazy(
    __name__,
    {
        "open_browser": "browser",
        "Authorization": "flow",
        "LoginSettings": "flow",
        "authorize": "flow",
        "DEFAULT_HOLD": "loopback",
        "LoopbackServer": "loopback",
        "challenge_s256": "pkce",
        "new_verifier": "pkce",
        "random_token": "pkce",
        "LoginUi": "terminal",
        "Terminal": "terminal",
    },
)
