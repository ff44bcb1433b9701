"""A browser without JavaScript, for ``$BROWSER``: follows the login with ``requests``.

It detaches at once (as a real browser launcher does), then: fetches the loopback's
``/favicon.ico`` (as a real browser would, unasked), opens the consent URL, submits the
emulator's consent form with Allow or Deny, follows the redirects and logs the last
page. ``FLYTE_IAP_TEST_BROWSER_ACTION``: allow (default), deny, forge-state (visit the
loopback with the real code and a wrong state, then stop), none (do nothing).
"""

from __future__ import annotations

import urllib.parse
from html.parser import HTMLParser
from typing import Any

import requests
from _launch import FORGED_STATE, loopback_origin, main, page_text, with_state

_TIMEOUT = 10
_MAX_HOPS = 10


class _ConsentForm(HTMLParser):
    """The first form: its action, method, hidden fields and submit buttons by id."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.method = "get"
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, tuple[str, str]] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self._in_form = True
            self.action, self.method = a.get("action", ""), a.get("method", "get").lower()
        elif tag == "input" and self._in_form and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self._in_form and a.get("id"):
            self.buttons[a["id"]] = (a.get("name", ""), a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _record(entry: dict[str, Any], response: requests.Response) -> None:
    entry["visited"].append([response.request.method, response.url, response.status_code])


def _follow(
    session: requests.Session, response: requests.Response, entry: dict[str, Any], forge: bool
) -> requests.Response:
    """Follow redirects by hand, logging each hop; with ``forge``, visit the loopback with
    a wrong state instead of the real redirect."""
    origin = loopback_origin(entry["url"])
    for _ in range(_MAX_HOPS):
        if not response.is_redirect:
            return response
        target = urllib.parse.urljoin(response.url, response.headers["Location"])
        if target.startswith(origin + "/"):
            entry["loopback_url"] = target
            if forge:
                target = with_state(target, FORGED_STATE)
        response = session.get(target, allow_redirects=False, timeout=_TIMEOUT)
        _record(entry, response)
    raise RuntimeError(f"more than {_MAX_HOPS} redirects")


def drive(url: str, action: str, entry: dict[str, Any]) -> None:
    with requests.Session() as session:
        favicon = session.get(loopback_origin(url) + "/favicon.ico", timeout=_TIMEOUT)
        _record(entry, favicon)
        response = session.get(url, allow_redirects=False, timeout=_TIMEOUT)
        _record(entry, response)
        if response.status_code == 200:
            form = _ConsentForm()
            form.feed(response.text)
            button = "allow" if action in ("allow", "forge-state") else "deny"
            if button not in form.buttons:
                raise RuntimeError(f"no #{button} button on {response.url}: {response.text!r}")
            name, value = form.buttons[button]
            data = {**form.fields, name: value}
            target = urllib.parse.urljoin(response.url, form.action)
            response = session.request(
                form.method, target, data=data, allow_redirects=False, timeout=_TIMEOUT
            )
            _record(entry, response)
        response = _follow(session, response, entry, forge=action == "forge-state")
        entry["status"] = response.status_code
        entry["text"] = page_text(response.text)


if __name__ == "__main__":
    main("http", drive)
