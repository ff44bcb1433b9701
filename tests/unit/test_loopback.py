"""PKCE and the loopback redirect server, in process: real sockets on 127.0.0.1."""

from __future__ import annotations

import base64
import re
import socket
import time

import pytest
import requests

from flyte_iap.errors import LoginError, UsageError
from flyte_iap.login import LoopbackServer, challenge_s256, new_verifier, pages, random_token

from ..loopback_login import DENIED, STATE, callback, open_tab, port_of, still_waiting


# --- PKCE -------------------------------------------------------------------------------
def test_pkce_matches_rfc7636_appendix_b() -> None:
    octets = bytes(
        [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186,
         22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]
    )  # fmt: skip
    verifier = base64.urlsafe_b64encode(octets).rstrip(b"=").decode()
    assert verifier == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_and_tokens_are_fresh_and_well_formed() -> None:
    verifiers = {new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", v) for v in verifiers)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge_s256(v)) for v in verifiers)
    tokens = {random_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32,}", t) for t in tokens)


# --- the loopback server ----------------------------------------------------------------
EMAIL = "ada@example.com"


def test_valid_callback_returns_the_code_and_the_tab_shows_the_success(
    server: LoopbackServer,
) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.redirect_uri)
    tab = open_tab(server, code="4/the-code", state=STATE, scope="openid email")
    assert server.wait(5) == "4/the-code"
    server.report_success(EMAIL)
    response = tab.result(5)
    # The page names the account, known only from the report: the tab was held for it.
    assert response.status_code == 200
    assert "<h1>Login succeeded</h1>" in response.text and pages.SUCCESS_NEXT in response.text
    assert f"<dt>Account</dt><dd>{EMAIL}</dd>" in response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_a_failed_exchange_is_what_the_tab_shows() -> None:
    with LoopbackServer(state=STATE, retry_command="flyte-iap login --desktop_client_id D") as srv:
        tab = open_tab(srv, code="bogus", state=STATE)
        assert srv.wait(5) == "bogus"
        reason = "exchanging the login code failed (400): invalid_grant: Malformed auth code."
        srv.report_failure(reason)
        response = tab.result(5)
    assert response.status_code == 200
    assert "Login succeeded" not in response.text
    assert "<title>flyte-iap: Login failed</title>" in response.text
    assert f'<p class="reason">{reason}</p>' in response.text
    assert f"<p>{pages.RETRY}</p><pre><code>" in response.text
    assert "<span>--desktop_client_id</span> <span>D</span>" in response.text


#: How long a report may wait for the held tab's page in the tests below that show it does
#: not wait at all: far past their hang guard, so a report that waited fails the test.
NEVER = 30.0


@pytest.mark.timeout(5)  # ten times the 0.5 s hold
def test_the_hold_is_bounded_and_never_claims_success() -> None:
    with LoopbackServer(state=STATE, hold=0.5, send_wait=NEVER) as server:
        tab = open_tab(server, code="c", state=STATE)
        assert server.wait(5) == "c"
        response = tab.result(5)  # nobody reported: the hold ran out
        assert "Login succeeded" not in response.text
        assert "return to the terminal to see whether it succeeded" in response.text
        server.report_success(EMAIL)  # too late for the tab; it does not wait for it


def test_closing_answers_a_tab_still_held() -> None:
    server = LoopbackServer(state=STATE, hold=30)
    tab = open_tab(server, code="c", state=STATE)
    assert server.wait(5) == "c"
    server.close()  # the login ended (e.g. interrupted) without a report
    response = tab.result(5)  # long before the 30 s hold would end
    assert "Login succeeded" not in response.text
    assert "The login ended before this answer could be used" in response.text


@pytest.mark.timeout(5)  # a report that waited for a tab would wait NEVER seconds
def test_a_pasted_url_has_no_tab_to_wait_for() -> None:
    with LoopbackServer(state=STATE, send_wait=NEVER) as server:
        assert server.submit_pasted_url(f"{server.redirect_uri}?code=pasted&state={STATE}") is None
        assert server.wait(5) == "pasted"
        server.report_failure("refused")
        server.report_success(EMAIL)


def test_favicon_is_404_and_the_login_goes_on(server: LoopbackServer) -> None:
    assert requests.get(server.redirect_uri + "favicon.ico", timeout=10).status_code == 404
    tab = open_tab(server, code="c1", state=STATE)
    assert server.wait(5) == "c1"
    server.report_success(EMAIL)
    assert tab.result(5).status_code == 200


def test_wrong_or_missing_state_is_refused_and_the_login_keeps_waiting(
    server: LoopbackServer,
) -> None:
    forged = callback(server, code="stolen", state="someone-else")
    assert forged.status_code == 400
    assert "does not belong to the running login" in forged.text
    assert callback(server, code="stolen").status_code == 400
    assert callback(server, error="access_denied", state="x").status_code == 400
    assert still_waiting(server)
    tab = open_tab(server, code="real", state=STATE)
    assert server.wait(5) == "real"
    server.report_success(EMAIL)
    assert tab.result(5).status_code == 200


def test_other_methods_and_a_state_without_code_do_not_end_the_login(
    server: LoopbackServer,
) -> None:
    post = requests.post(server.redirect_uri, params={"code": "c", "state": STATE}, timeout=10)
    assert post.status_code == 404
    assert callback(server, state=STATE).status_code == 400
    assert still_waiting(server)


def test_access_denied_ends_the_wait_at_once(server: LoopbackServer) -> None:
    tab = open_tab(server, error="access_denied", state=STATE)
    with pytest.raises(LoginError) as caught:
        server.wait(30)
    assert str(caught.value) == DENIED  # not the end of the 30 s
    assert caught.value.error == "access_denied"
    page = tab.result(5).text
    assert "<h1>Login denied</h1>" in page and "(access_denied)" in page
    assert "<span>flyte-iap</span> <span>login</span>" in page  # to retry


def test_other_errors_are_named_and_escaped(server: LoopbackServer) -> None:
    page = callback(server, error="<script>bad</script>", error_description="x", state=STATE)
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert "<h1>Login failed</h1>" in page.text  # not "denied": nobody chose Deny
    with pytest.raises(LoginError, match=r"failed in the browser \(<script>bad</script>: x\)"):
        server.wait(5)


def test_a_hostile_error_description_is_defused(server: LoopbackServer) -> None:
    forged = "\x1b]0;x\x07\nflyte-iap: logged in as admin@corp"
    page = callback(server, error="server_error\x1b[2J", error_description=forged, state=STATE)
    with pytest.raises(LoginError) as caught:
        server.wait(5)
    message = str(caught.value)
    assert "\x1b" not in message and "\x07" not in message and "\n" not in message
    assert "(server_error?[2J: ?]0;x??flyte-iap: logged in as admin@corp)" in message
    assert "\x1b" not in page.text and "server_error?[2J" in page.text


def test_only_the_first_result_counts(server: LoopbackServer) -> None:
    first = open_tab(server, code="first", state=STATE)
    assert server.wait(5) == "first"
    second = callback(server, code="second", state=STATE)
    assert second.status_code == 409 and "already received an answer" in second.text
    assert callback(server, error="access_denied", state=STATE).status_code == 409
    assert server.submit_pasted_url(f"{server.redirect_uri}?code=third&state={STATE}") is None
    assert server.wait(5) == "first"
    server.report_success(EMAIL)
    assert "<h1>Login succeeded</h1>" in first.result(5).text


@pytest.mark.timeout(5)  # ten times the 0.5 s wait
def test_timeout_raises_login_error(server: LoopbackServer) -> None:
    started = time.monotonic()
    with pytest.raises(LoginError) as caught:
        server.wait(0.5)
    assert time.monotonic() - started >= 0.4  # it waited (load makes this only longer)
    assert str(caught.value).startswith("no login within 0.5 s (")
    assert str(caught.value).endswith("; run the command again, or raise --timeout")


def test_busy_port_is_a_usage_error(server: LoopbackServer) -> None:
    port = port_of(server)
    with pytest.raises(UsageError) as caught:
        LoopbackServer(state="other", port=port)
    assert str(caught.value) == (
        f"port {port} on 127.0.0.1 is in use: pick another with --port, "
        "or leave --port out for a free one"
    )
    assert caught.value.exit_code == 2


def test_a_fixed_port_is_used_and_released_on_close() -> None:
    with LoopbackServer(state=STATE) as first:
        port = port_of(first)
    with LoopbackServer(state=STATE, port=port) as again:
        assert again.redirect_uri == f"http://127.0.0.1:{port}/"
        tab = open_tab(again, code="c", state=STATE)
        assert again.wait(5) == "c"
        again.report_success(EMAIL)
        assert tab.result(5).status_code == 200
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_listens_on_127_0_0_1_only(server: LoopbackServer) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port_of(server)), timeout=2).close()


def test_no_access_log_on_stderr(server: LoopbackServer, capfd: pytest.CaptureFixture[str]) -> None:
    requests.get(server.redirect_uri + "favicon.ico", timeout=10)
    callback(server, code="c", state="wrong")
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        raw.recv(1000)
    tab = open_tab(server, code="c", state=STATE)
    server.wait(5)
    server.report_success(EMAIL)
    tab.result(5)
    assert capfd.readouterr().err == ""


def test_pasted_urls_are_judged_like_callbacks(server: LoopbackServer) -> None:
    base = server.redirect_uri
    assert "not a URL" in (server.submit_pasted_url("just some words") or "")
    assert "has no code" in (server.submit_pasted_url(f"{base}?state={STATE}") or "")
    wrong = server.submit_pasted_url(f"{base}?code=c&state=nope") or ""
    assert "does not belong to the running login" in wrong
    assert "\n" not in wrong
    assert still_waiting(server)
    assert server.submit_pasted_url(f"  {base}?code=pasted&state={STATE}\n") is None
    assert server.wait(5) == "pasted"


def test_a_pasted_denial_raises(server: LoopbackServer) -> None:
    assert (
        server.submit_pasted_url(f"{server.redirect_uri}?error=access_denied&state={STATE}") is None
    )
    with pytest.raises(LoginError, match=re.escape(DENIED)):
        server.wait(5)
