"""A real browser for ``$BROWSER``: Debian's headless chromium, driven by Playwright.

It detaches at once (as a real browser launcher does), opens the consent URL, clicks
``#allow`` or ``#deny``, waits for the loopback's page and logs its text. With
``forge-state`` it clicks Allow, keeps the redirect from reaching the loopback, and
visits the loopback with the real code and a wrong state instead. ``none`` does nothing.
The browser is always closed; the whole run is bounded by a hard 60 s alarm.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from _launch import CHROMIUM, CHROMIUM_ARGS, FORGED_STATE, loopback_origin, main, with_state

_HARD_TIMEOUT = 60
_STEP_TIMEOUT_MS = 20_000


class Overtime(Exception):
    pass


def _overtime(signum: int, frame: FrameType | None) -> None:
    raise Overtime(f"the browser ran for more than {_HARD_TIMEOUT} s")


def drive(url: str, action: str, entry: dict[str, Any]) -> None:
    from playwright.sync_api import Route, sync_playwright

    signal.signal(signal.SIGALRM, _overtime)
    signal.alarm(_HARD_TIMEOUT)
    origin = loopback_origin(url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(_STEP_TIMEOUT_MS)
            page.on(
                "response",
                lambda r: entry["visited"].append([r.request.method, r.url, r.status]),
            )

            def hold_redirect(route: Route) -> None:
                # Take the consent answer ourselves: keep its Location, show a stub page.
                answer = route.fetch(max_redirects=0)
                entry["loopback_url"] = answer.headers.get("location", "")
                route.fulfill(status=200, content_type="text/html", body="<p>held</p>")

            if action == "forge-state":
                page.route("**/o/oauth2/v2/auth/decision", hold_redirect)
            page.goto(url)
            page.click("#deny" if action == "deny" else "#allow")
            if action == "forge-state":
                page.wait_for_selector("text=held")
                page.goto(with_state(entry["loopback_url"], FORGED_STATE))
            else:
                page.wait_for_url(lambda u: u.startswith(origin + "/"), wait_until="load")
            entry["final_url"] = page.url
            entry["text"] = " ".join(page.inner_text("body").split())
            loopback = [v for v in entry["visited"] if v[1].startswith(origin + "/?")]
            entry["status"] = loopback[-1][2] if loopback else None
        finally:
            browser.close()
            signal.alarm(0)


if __name__ == "__main__":
    main("chromium", drive)
