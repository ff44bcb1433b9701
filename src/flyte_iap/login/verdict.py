"""The verdict on one loopback callback or pasted URL, and the browser's denial as an error."""

from __future__ import annotations

from dataclasses import dataclass

from flyte_iap.errors import LoginError, shown


@dataclass(frozen=True)
class Verdict:
    """What one callback (or pasted URL) amounts to: a code, an error, or a rejection."""

    code: str = ""
    error: LoginError | None = None
    rejected: str = ""  # why a pasted URL is refused, for the person at the prompt
    page: str = ""  # the same, for the browser tab
    # The browser's own error, as it came (made safe when shown): for the tab.
    browser_error: str = ""


def error_text(params: dict[str, str]) -> str:
    """``error: error_description`` of the browser's ``error`` redirect, as it came."""
    description = params.get("error_description", "")
    return f"{params['error']}: {description}" if description else params["error"]


def denial(params: dict[str, str]) -> LoginError:
    """The browser's ``error`` redirect as a LoginError; its text, from whoever sent the
    redirect, is made safe for a terminal with :func:`shown`."""
    error = params["error"]
    if error == "access_denied":
        message = (
            "the login was denied in the browser (access_denied); "
            "run the command again and choose Allow"
        )
    else:
        detail = shown(error_text(params))
        message = f"the login failed in the browser ({detail}); run the command again"
    return LoginError(message, error=error)
