"""Every error the tool reports to a person, under one root.

The command line catches :class:`FlyteIapError`, prints its message (one or
two lines: what failed, the value involved, the next step) and exits with
its ``exit_code``. Anything else is a bug and shows a traceback only with
``--verbose``. Messages never carry a secret, refresh token or access token
(docs/design.md, "Output").

Imports nothing: the cached-token fast path loads this module.
"""

from __future__ import annotations


class FlyteIapError(Exception):
    """An error with a message meant for a person."""

    exit_code = 1

    def reworded(self, message: str) -> FlyteIapError:
        """The same error (class and attributes) with another message, for adding context."""
        import copy

        clone = copy.copy(self)
        clone.args = (message,)
        return clone


class UsageError(FlyteIapError):
    """Bad input on the command line, in the environment, or in a file the user pointed at."""

    exit_code = 2


class ConfigError(UsageError):
    """A Flyte config (``~/.flyte/config.yaml``) or ``admin.endpoint`` this tool will not
    read or edit: not YAML, not a mapping, not editable exactly, not ``HOST[:PORT]``.

    The message names the problem (never the file's contents: a config may hold
    secrets) and what to do; ``configure`` adds the file's name and leaves it as it was.
    """


class ManifestError(UsageError):
    """A bad name, file or document given to ``manifests render`` or ``manifests check``;
    the message names the value or file and the fix."""


class CredentialsError(FlyteIapError):
    """Credentials are missing, malformed, of the wrong kind, or revoked."""


class TransportError(FlyteIapError):
    """A request could not be completed: no connection, timeout."""


class OAuthError(FlyteIapError):
    """A Google endpoint answered with an error.

    ``error`` is the OAuth error code (``invalid_grant``, ``invalid_client``)
    or the Google API status (``NOT_FOUND``, ``PERMISSION_DENIED``);
    ``status`` is the HTTP status.
    """

    def __init__(self, message: str, *, error: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


class ProtocolError(FlyteIapError):
    """A 2xx answer that is not what Google sends: not JSON, a field missing, not a JWT.

    Seen behind captive portals and proxies that answer 200 with an HTML page.
    """


class LoginError(FlyteIapError):
    """The browser login could not complete: denied or failed in the browser, or timed out.

    ``error`` is the OAuth error code from the redirect (``access_denied``), if any.
    """

    def __init__(self, message: str, *, error: str = "") -> None:
        super().__init__(message)
        self.error = error


class CacheError(FlyteIapError):
    """The token cache could not be locked in time."""


#: How much of a text from outside (a server's answer, a token's claim) a message shows.
SHOWN_LIMIT = 200


def shown(text: object, limit: int = SHOWN_LIMIT) -> str:
    """Text that came from outside, made safe to put in a message.

    A server's ``error_description``, an error body or a token's ``email`` claim may
    carry ANSI or OSC escapes, newlines or bidi overrides that would rewrite the
    terminal or forge a line of our own ("flyte-iap: logged in as admin@corp"). Every
    character that is not printable (controls, line and paragraph separators, format
    characters) becomes ``?``, and the text is cut to ``limit`` characters.
    """
    value = text if isinstance(text, str) else str(text)
    cleaned = "".join(c if c.isprintable() else "?" for c in value[: limit + 1])
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
