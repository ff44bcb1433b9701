"""A web page in the person's browser cannot use ``flyte-iap proxy``: headless chromium
opens a page from another local origin that fetch()es the proxy, loads an image from it
and posts a form to it, then navigates to it; every request is refused (403) and the
IAP gate sees none of them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator

from ..browsers import chromium_missing
from ..browsers._launch import CHROMIUM, CHROMIUM_ARGS
from ..cli import Cli
from ..proxy_upstream import Upstream
from ..serving_commands import start_proxy
from ..stub_server import Reply, StubServer
from ..tokens import AUD, SA

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))

PAGE = """<!doctype html><title>a web page</title>
<img id="img" src="{proxy}/api/v1/projects.png">
<form id="f" method="post" action="{proxy}/api/v1/projects" target="sink">
<input name="name" value="x"></form><iframe name="sink"></iframe>
<script>
fetch("{proxy}/api/v1/projects", {{method: "POST", body: "{{}}", mode: "no-cors"}})
  .then(r => document.title = "fetched " + r.type, e => document.title = "fetch failed");
document.getElementById("f").submit();
</script>"""


def test_a_web_page_cannot_use_the_proxy(
    cli: Cli, emulator: Emulator, upstream: Upstream, home: Path
) -> None:
    from playwright.sync_api import sync_playwright

    key = emulator.write_service_account_key(home / "key.json")
    gate = emulator.start_gate(upstream.url)
    proc, port = start_proxy(
        cli, "--upstream", gate, SA, "--webapp_client_id", AUD, "--service_account_key", str(key)
    )
    proxy = f"http://localhost:{port}"
    page_server = StubServer(Reply.html(PAGE.format(proxy=proxy)))
    statuses: list[tuple[str, int]] = []
    try:
        with page_server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.on(
                    "response",
                    lambda r: (
                        statuses.append((r.url, r.status)) if r.url.startswith(proxy) else None
                    ),
                )
                page.goto(f"{page_server.url}/", wait_until="load")
                deadline = time.monotonic() + 10
                while len({u for u, _ in statuses}) < 2 and time.monotonic() < deadline:
                    page.wait_for_timeout(100)
                page.goto(f"{proxy}/api/v1/projects")  # a navigation, and its favicon
                page.wait_for_timeout(500)
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(15)
    assert statuses, "chromium never reached the proxy"
    assert {s for _, s in statuses} == {403}, statuses
    assert {u for u, _ in statuses} >= {f"{proxy}/api/v1/projects", f"{proxy}/api/v1/projects.png"}
    assert emulator.gate_log == [] and upstream.seen == []
