"""The pages of the end of a login (``flyte_iap.login.pages``), and the headers the real
loopback server sends them with: escaped, self-contained, and under a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
import requests

from flyte_iap.login import LoopbackServer, pages

from ..loopback_login import STATE, callback, open_tab

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&\x1b]0;x\x07\nforged"
COMMAND = (
    "flyte-iap login --desktop_client_id 456-def.apps.googleusercontent.com "
    "--webapp_client_id 123-abc.apps.googleusercontent.com "
    "--desktop_client_secret_gcp_secret_name 'a name with spaces' --project p"
)

#: Every page, built with ``text`` wherever the page takes a value.
BUILDERS: dict[str, Callable[[str], bytes]] = {
    "success": lambda text: pages.success(text, text),
    "failure": lambda text: pages.failure(text, text),
    "denied": lambda text: pages.denied(text),
    "browser_error": lambda text: pages.browser_error(text, text),
    "wrong_link": lambda text: pages.wrong_link(text, text),
    "notice": lambda text: pages.notice(text, text),
}


class _Visible(HTMLParser):
    """The text a person sees (not the head), and the text of each ``<code>``."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.code: list[str] = []
        self._head = self._code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._head |= tag == "head"
        if tag == "code":
            self._code = True
            self.code.append("")

    def handle_endtag(self, tag: str) -> None:
        self._head &= tag != "head"
        self._code &= tag != "code"

    def handle_data(self, data: str) -> None:
        if not self._head:
            self.text.append(data)
        if self._code:
            self.code[-1] += data


def visible(page: bytes) -> _Visible:
    parser = _Visible()
    parser.feed(page.decode())
    return parser


def text_of(page: bytes) -> str:
    return " ".join(" ".join(visible(page).text).split())


@pytest.mark.parametrize("name", BUILDERS)
def test_every_page_escapes_hostile_text(name: str) -> None:
    page = BUILDERS[name](HOSTILE).decode()
    assert "<script" not in page and "<img" not in page and "onerror=alert(2)>" not in page
    assert "\x1b" not in page and "\x07" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Control characters became "?", so no line of the page starts with the forged text.
    assert "?]0;x??forged" in text_of(page.encode())


@pytest.mark.parametrize("name", BUILDERS)
def test_no_page_refers_to_anything_outside_itself(name: str) -> None:
    page = BUILDERS[name]("ada@example.com").decode().lower()
    assert "http" not in page and "//" not in page
    for reference in ("src=", "href=", "url(", "@import", "<script", "<link", "<iframe"):
        assert reference not in page, reference


@pytest.mark.parametrize("name", BUILDERS)
def test_every_page_is_one_document_for_phones_and_dark_mode(name: str) -> None:
    page = BUILDERS[name]("x").decode()
    assert page.startswith('<!doctype html><html lang="en"><head><meta charset="utf-8">')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media (prefers-color-scheme:dark)" in page
    assert page.count("<style>") == 1 and " style=" not in page  # the CSP allows one block


def test_the_success_page_names_the_account_and_the_audience() -> None:
    page = pages.success("ada@example.com", "123-abc.apps.googleusercontent.com")
    text = text_of(page)
    assert text.startswith("flyte-iap Login succeeded Account ada@example.com ")
    assert "Audience 123-abc.apps.googleusercontent.com" in text
    assert pages.SUCCESS_NEXT in text
    assert "<title>flyte-iap: Login succeeded</title>" in page.decode()
    assert "Audience" not in text_of(pages.success("ada@example.com", ""))


def test_the_failure_page_carries_the_reason_and_the_exact_retry_command() -> None:
    reason = "exchanging the login code failed (400): invalid_grant: Bad Request"
    page = pages.failure(reason, COMMAND)
    text = text_of(page)
    assert text.startswith(f"flyte-iap Login failed {reason} {pages.RETRY} flyte-iap login ")
    # What a person selects in the block is the command, to the character (quotes too).
    assert visible(page).code == [COMMAND]
    assert "<pre><code>" in page.decode()


def test_a_command_that_is_not_shell_syntax_is_shown_as_it_is() -> None:
    page = pages.failure("x", "flyte-iap login --project 'unbalanced")
    assert visible(page).code == ["flyte-iap login --project 'unbalanced"]


def test_denied_and_browser_errors_say_what_came_back_and_how_to_retry() -> None:
    denied = pages.denied(COMMAND)
    assert "Login denied" in text_of(denied) and "(access_denied)" in text_of(denied)
    assert pages.DENIED_NEXT in text_of(denied) and visible(denied).code == [COMMAND]
    failed = pages.browser_error("server_error: the sky fell", COMMAND)
    assert "Login failed" in text_of(failed) and "server_error: the sky fell" in text_of(failed)
    assert visible(failed).code == [COMMAND]


def style_hash(page: str) -> str:
    match = re.search(r"<style>(.*)</style>", page, re.DOTALL)
    assert match is not None
    return base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()


def test_every_answer_of_the_server_has_the_headers_and_a_csp_matching_its_style() -> None:
    with LoopbackServer(state=STATE, audience="aud-1", retry_command="flyte-iap login -x") as srv:
        answers = {
            "not found": requests.get(srv.redirect_uri + "favicon.ico", timeout=10),
            "wrong state": callback(srv, code="c", state="forged"),
            "no code": callback(srv, state=STATE),
        }
        tab = open_tab(srv, code="c", state=STATE)
        assert srv.wait(5) == "c"
        answers["second answer"] = callback(srv, code="c2", state=STATE)
        srv.report_success("ada@example.com")
        answers["success"] = tab.result(5)
    assert [a.status_code for a in answers.values()] == [404, 400, 400, 409, 200]
    for what, answer in answers.items():
        csp = answer.headers["Content-Security-Policy"]
        assert csp == pages.CONTENT_SECURITY_POLICY, what
        assert csp.startswith("default-src 'none'; style-src 'sha256-")
        assert f"'sha256-{style_hash(answer.text)}'" in csp, what
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Audience aud-1" in text_of(answers["success"].content)
    assert visible(answers["wrong state"].content).code == ["flyte-iap login -x"]
    assert pages.NOT_FOUND in text_of(answers["not found"].content)


def test_the_server_escapes_what_the_browser_brought() -> None:
    with LoopbackServer(state=STATE) as srv:
        page = callback(srv, error=HOSTILE, error_description=HOSTILE, state=STATE)
    assert "<script" not in page.text and "\x1b" not in page.text
    assert html.escape("<script>alert(1)</script>") in page.text
    assert "Login failed" in text_of(page.content)
