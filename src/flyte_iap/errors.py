"""One root error for everything the tool reports to a person.

The command line catches :class:`FlyteIapError`, prints its message (one or
two lines: what failed, the value involved, the next step) and exits with
its ``exit_code``. Anything else is a bug and shows a traceback only with
``--verbose``. Messages never carry a secret, refresh token or access token.
"""

from __future__ import annotations


class FlyteIapError(Exception):
    """An error with a message meant for a person."""

    exit_code = 1


class UsageError(FlyteIapError):
    """Bad input on the command line or in a file the user pointed at."""

    exit_code = 2


class CredentialsError(FlyteIapError):
    """Credentials are missing, malformed, of the wrong kind, or revoked."""


class TransportError(FlyteIapError):
    """A request could not be completed: no connection, timeout, 5xx."""


class OAuthError(FlyteIapError):
    """A Google endpoint answered with an error body.

    ``error`` is the OAuth error code (``invalid_grant``, ``invalid_client``)
    or the Google API status (``NOT_FOUND``, ``PERMISSION_DENIED``).
    """

    def __init__(self, message: str, *, error: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


class CacheError(FlyteIapError):
    """The token cache could not be read, written or locked."""
