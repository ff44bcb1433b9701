"""transport.py against a real local server: retries, timeouts, errors, bodies, the env timeout."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator
from flyte_iap.errors import OAuthError, ProtocolError, TransportError, UsageError
from flyte_iap.transport import (
    MAX_BODY,
    HttpClient,
    Response,
    describe_error,
    http_timeout,
    raise_for_error,
)

from ..cli import InProcessCli
from ..raw_servers import JSON_HEAD, drip, endless, head_then_silence, raw_server
from ..stub_server import Reply, StubServer
from ..tokens import sa_args

WHAT = "the token endpoint"
SECRET = "ya29.a0-access-token-that-must-never-be-printed"

Serve = Callable[..., StubServer]


# --- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_server() -> Iterator[StubServer]:
    """One server for the module: stopping a StubServer costs ~50 ms, and this file must
    stay under 5 s (the deadline tests wait for real). Tests re-script it through ``serve``."""
    with StubServer() as stub:
        yield stub


@pytest.fixture
def serve(shared_server: StubServer) -> Serve:
    """``serve(*replies)``: the shared server, answering with these replies, no requests seen."""

    def script(*replies: Reply) -> StubServer:
        shared_server.replies[:] = list(replies) or [Reply()]
        shared_server.requests.clear()
        return shared_server

    return script


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> HttpClient:
    """Three tries, backoff 0.5 s, timeout 2 s; sleeps recorded, not slept."""
    return HttpClient(timeout=2.0, tries=3, backoff=0.5, sleep=sleeps.append)


def fetch(serve: Serve, reply: Reply) -> Response:
    """What the real server answered with ``reply``, fetched in one try."""
    stub = serve(reply)
    return HttpClient(timeout=2.0, tries=1).request("GET", stub.url + "/x", what=WHAT)


def free_port() -> int:
    """A port nothing listens on (bound, read, closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def hanging_up() -> Iterator[tuple[str, list[int]]]:
    """A TCP server on 127.0.0.1 that accepts each connection and closes it unanswered:
    (its URL, one entry per accepted connection)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.02)
    accepted: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(1)
        listener.close()


def assert_backoff(delay: float, attempt: int, backoff: float = 0.5) -> None:
    """Exponential backoff with up to 50 % jitter: backoff * 2**(attempt-1) * [1, 1.5]."""
    base = backoff * 2 ** (attempt - 1)
    assert base <= delay <= base * 1.5, (delay, attempt)


# --- what is sent -----------------------------------------------------------------------------
def test_form_data_headers_and_params_reach_the_server(serve: Serve, client: HttpClient) -> None:
    stub = serve(Reply.json({"ok": True}, **{"X-Answer": "42"}))
    response = client.request(
        "POST",
        stub.url + "/token",
        what=WHAT,
        data={"grant_type": "refresh_token", "refresh_token": "r"},
        headers={"X-Goog-Test": "yes"},
        params={"alt": "json"},
    )
    ((method, path, headers, body),) = stub.requests
    assert (method, path) == ("POST", "/token?alt=json")
    assert headers["X-Goog-Test"] == "yes"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert body == b"grant_type=refresh_token&refresh_token=r"
    assert (response.status, response.ok, response.json()) == (200, True, {"ok": True})
    assert response.headers["x-answer"] == "42"
    assert response.url == stub.url + "/token"


def test_json_body_is_sent_as_json(serve: Serve, client: HttpClient) -> None:
    stub = serve(Reply.json({}))
    client.request("POST", stub.url + "/v1:generateIdToken", what=WHAT, json_body={"a": [1]})
    ((_, _, headers, body),) = stub.requests
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"a": [1]}


# --- retries ----------------------------------------------------------------------------------
def test_503_503_200_takes_three_requests_and_two_backoff_sleeps(
    serve: Serve, client: HttpClient, sleeps: list[float]
) -> None:
    stub = serve(Reply(503), Reply(503), Reply.json({"id_token": "t"}))
    response = client.request("POST", stub.url + "/token", what=WHAT, data={"a": "b"})
    assert response.status == 200
    assert response.json_field("id_token", WHAT) == "t"
    assert len(stub.requests) == 3
    assert [body for _, _, _, body in stub.requests] == [b"a=b"] * 3
    assert len(sleeps) == 2
    assert_backoff(sleeps[0], 1)
    assert_backoff(sleeps[1], 2)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_429_and_5xx_are_retried(
    serve: Serve, client: HttpClient, sleeps: list[float], status: int
) -> None:
    stub = serve(Reply(status), Reply.json({}))
    assert client.request("GET", stub.url, what=WHAT).status == 200
    assert len(stub.requests) == 2
    assert len(sleeps) == 1


def test_500_three_times_returns_the_last_500_after_three_tries(
    serve: Serve, client: HttpClient, sleeps: list[float]
) -> None:
    stub = serve(Reply(500, b"first"), Reply(500, b"second"), Reply(500, b"third"))
    response = client.request("GET", stub.url, what=WHAT)
    assert (response.status, response.body) == (500, b"third")
    assert len(stub.requests) == 3
    assert len(sleeps) == 2, "no sleep after the last try"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_other_4xx_are_answers_not_retried(
    serve: Serve, client: HttpClient, sleeps: list[float], status: int
) -> None:
    stub = serve(Reply.json({"error": "invalid_grant"}, status=status), Reply.json({}))
    response = client.request("POST", stub.url, what=WHAT)
    assert response.status == status
    assert response.json() == {"error": "invalid_grant"}
    assert len(stub.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("client_tries", "call_tries", "expected"), [(1, None, 1), (3, 1, 1), (3, 5, 5), (2, None, 2)]
)
def test_tries_bounds_the_attempts(
    serve: Serve,
    sleeps: list[float],
    client_tries: int,
    call_tries: int | None,
    expected: int,
) -> None:
    """``tries`` on the call overrides the client's."""
    stub = serve(Reply(503))
    client = HttpClient(timeout=2.0, tries=client_tries, sleep=sleeps.append)
    response = client.request("GET", stub.url, what=WHAT, tries=call_tries)
    assert response.status == 503
    assert len(stub.requests) == expected
    assert len(sleeps) == expected - 1


def test_a_numeric_retry_after_is_honoured(
    serve: Serve, client: HttpClient, sleeps: list[float]
) -> None:
    stub = serve(Reply(429, headers={"Retry-After": "2"}), Reply(503, headers={"Retry-After": "0"}))
    client.request("GET", stub.url, what=WHAT)
    assert sleeps == [2.0, 0.0]


def test_a_retry_after_of_3600_is_capped_to_10_seconds(
    serve: Serve, client: HttpClient, sleeps: list[float]
) -> None:
    stub = serve(Reply(503, headers={"Retry-After": "3600"}), Reply.json({}))
    assert client.request("GET", stub.url, what=WHAT).status == 200
    assert sleeps == [10.0]


@pytest.mark.parametrize("retry_after", ["Wed, 21 Oct 2015 07:28:00 GMT", "soon", "1.5", "-1"])
def test_a_non_numeric_retry_after_is_ignored_for_the_backoff(
    serve: Serve, sleeps: list[float], retry_after: str
) -> None:
    stub = serve(Reply(503, headers={"Retry-After": retry_after}), Reply.json({}))
    client = HttpClient(timeout=2.0, backoff=0.25, sleep=sleeps.append)
    assert client.request("GET", stub.url, what=WHAT).status == 200
    assert len(sleeps) == 1
    assert_backoff(sleeps[0], 1, backoff=0.25)


def test_a_retry_after_of_unicode_digits_is_ignored_for_the_backoff(
    serve: Serve, client: HttpClient, sleeps: list[float]
) -> None:
    """A header is latin-1: byte 0xB2 arrives as '²', which is not a number of seconds."""
    stub = serve(Reply(503, headers={"Retry-After": "\u00b2"}), Reply.json({}))
    assert client.request("GET", stub.url, what=WHAT).status == 200
    assert len(sleeps) == 1
    assert_backoff(sleeps[0], 1)


def test_redirects_are_returned_not_followed(serve: Serve, client: HttpClient) -> None:
    stub = serve(Reply(302, headers={"Location": "/elsewhere"}), Reply.json({"followed": True}))
    response = client.request("GET", stub.url + "/start", what=WHAT)
    assert response.status == 302
    assert response.headers["Location"] == "/elsewhere"
    assert [path for _, path, _, _ in stub.requests] == ["/start"]


def test_debug_lines_name_each_try_but_never_the_query_string(
    serve: Serve, sleeps: list[float]
) -> None:
    lines: list[str] = []
    client = HttpClient(timeout=2.0, sleep=sleeps.append, debug=lines.append)
    stub = serve(Reply(503), Reply.json({}))
    url = f"{stub.url}/callback?code=secret-code&access_token={SECRET}"
    client.request("GET", url, what=WHAT, params={"key": "api-key-value"})
    assert lines == [
        f"GET {stub.url}/callback ({WHAT}, try 1/3)",
        f"{WHAT} answered 503; retrying",
        f"GET {stub.url}/callback ({WHAT}, try 2/3)",
    ]
    # The query was sent all the same.
    path = stub.requests[0][1]
    assert "code=secret-code" in path and "key=api-key-value" in path


# --- when nothing got through -----------------------------------------------------------------
def test_connection_refused_is_retried_then_a_transport_error_naming_host_and_what(
    sleeps: list[float],
) -> None:
    port = free_port()
    client = HttpClient(timeout=2.0, tries=3, sleep=sleeps.append)
    url = f"http://127.0.0.1:{port}/token?refresh_token={SECRET}"
    with pytest.raises(TransportError) as caught:
        client.request("POST", url, what=WHAT)
    assert str(caught.value) == f"could not reach {WHAT} at 127.0.0.1:{port}: connection refused"
    assert caught.value.exit_code == 1
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    assert len(sleeps) == 2
    assert_backoff(sleeps[0], 1)
    assert_backoff(sleeps[1], 2)


def test_a_timeout_is_retried_then_a_transport_error(sleeps: list[float]) -> None:
    client = HttpClient(timeout=0.2, tries=2, sleep=sleeps.append)
    with StubServer(Reply(200, delay=0.6)) as stub:
        with pytest.raises(TransportError) as caught:
            client.request("GET", stub.url + "/computeMetadata", what="the metadata server")
        assert len(stub.requests) == 2
    host = stub.url.removeprefix("http://")
    assert str(caught.value) == (
        f"could not reach the metadata server at {host}: "
        "timed out (no complete answer within 0.2 s; FLYTE_IAP_HTTP_TIMEOUT)"
    )
    assert len(sleeps) == 1


def test_connect_timeout_does_not_lengthen_the_read_timeout(sleeps: list[float]) -> None:
    client = HttpClient(timeout=0.2, tries=1, sleep=sleeps.append)
    with (
        StubServer(Reply(200, delay=0.6)) as stub,
        pytest.raises(TransportError, match="timed out"),
    ):
        client.request("GET", stub.url, what=WHAT, connect_timeout=5.0)


def test_connect_timeout_does_not_shorten_the_read_timeout() -> None:
    client = HttpClient(timeout=2.0, tries=1)
    with StubServer(Reply.json({"late": True}, delay=0.3)) as stub:
        response = client.request("GET", stub.url, what=WHAT, connect_timeout=0.05)
    assert response.json() == {"late": True}


def test_a_host_that_does_not_resolve_is_host_name_not_found() -> None:
    host = "no-such-host.invalid"  # RFC 6761: never resolves
    client = HttpClient(timeout=2.0, tries=1)
    with pytest.raises(TransportError) as caught:
        client.request("GET", f"http://{host}/", what="the IAM credentials API")
    assert str(caught.value) == (
        f"could not reach the IAM credentials API at {host}: host name not found"
    )


def test_a_server_that_hangs_up_is_connection_failed(sleeps: list[float]) -> None:
    client = HttpClient(timeout=2.0, tries=2, sleep=sleeps.append)
    with hanging_up() as (url, accepted), pytest.raises(TransportError) as caught:
        client.request("GET", url, what=WHAT)
    host = url.removeprefix("http://")
    assert str(caught.value) == f"could not reach {WHAT} at {host}: connection failed"
    assert len(accepted) == 2
    assert len(sleeps) == 1


# --- 2xx bodies -------------------------------------------------------------------------------
def test_json_object_and_json_field_read_a_google_answer(serve: Serve) -> None:
    response = fetch(serve, Reply.json({"id_token": "eyJ.x.y", "expires_in": 3599}))
    assert response.json_object(WHAT) == {"id_token": "eyJ.x.y", "expires_in": 3599}
    assert response.json_field("id_token", WHAT) == "eyJ.x.y"


def test_a_captive_portal_page_is_a_protocol_error_without_the_page(serve: Serve) -> None:
    page = f"<html><p>Hotel WiFi portal: sign in</p><!-- {SECRET} --></html>"
    response = fetch(serve, Reply.html(page))
    with pytest.raises(ValueError):
        response.json()
    for read in (lambda: response.json_object(WHAT), lambda: response.json_field("token", WHAT)):
        with pytest.raises(ProtocolError) as caught:
            read()
        message = str(caught.value)
        assert message == f"{WHAT} answered 200 with a body of type text/html, not a JSON object"
        assert "portal" not in message and SECRET not in message and "charset" not in message


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply.json([SECRET, "id_token"]), "application/json"),
        (Reply.json(SECRET), "application/json"),
        (Reply.json(None), "application/json"),
        (Reply(200, b"\xff\xfe" + SECRET.encode(), {"Content-Type": "text/plain"}), "text/plain"),
        (Reply(200, SECRET.encode()), "a body"),
        (Reply(200), "an empty body"),
    ],
    ids=["list", "string", "null", "not-utf8", "no-content-type", "empty"],
)
def test_a_2xx_body_that_is_not_a_json_object_is_a_protocol_error(
    serve: Serve, reply: Reply, kind: str
) -> None:
    response = fetch(serve, reply)
    with pytest.raises(ProtocolError) as caught:
        response.json_object("the metadata server")
    message = str(caught.value)
    assert message.startswith("the metadata server answered 200 with ")
    assert kind in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "payload",
    [
        {"access_token": SECRET},
        {"id_token": "", "access_token": SECRET},
        {"id_token": None},
        {"id_token": 123},
        {"id_token": [SECRET]},
        {"id_token": {"value": SECRET}},
    ],
    ids=["missing", "empty", "null", "number", "list", "object"],
)
def test_a_missing_empty_or_non_string_field_is_a_protocol_error(
    serve: Serve, payload: dict[str, object]
) -> None:
    response = fetch(serve, Reply.json(payload))
    with pytest.raises(ProtocolError) as caught:
        response.json_field("id_token", "the IAM credentials API")
    assert str(caught.value) == "the IAM credentials API returned no id_token"


# --- error answers ----------------------------------------------------------------------------
@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_raise_for_error_passes_2xx(serve: Serve, status: int) -> None:
    raise_for_error(fetch(serve, Reply(status)), WHAT, "hint")


def test_an_oauth_error_body_becomes_error_and_description(serve: Serve) -> None:
    reply = Reply.json(
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        status=400,
    )
    with pytest.raises(OAuthError) as caught:
        raise_for_error(fetch(serve, reply), "the token refresh", "run `flyte-iap` again to log in")
    assert (caught.value.error, caught.value.status) == ("invalid_grant", 400)
    assert str(caught.value) == (
        "the token refresh failed (400): invalid_grant: Token has been expired or revoked.\n"
        "run `flyte-iap` again to log in"
    )


def test_an_oauth_error_without_description_or_hint_ends_at_the_code(serve: Serve) -> None:
    with pytest.raises(OAuthError) as caught:
        raise_for_error(fetch(serve, Reply.json({"error": "invalid_client"}, status=401)), WHAT)
    assert str(caught.value) == f"{WHAT} failed (401): invalid_client"
    assert (caught.value.error, caught.value.status) == ("invalid_client", 401)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"},
            "PERMISSION_DENIED",
        ),
        ({"code": 404, "message": "Permission denied"}, "404"),
        ({"message": "Permission denied"}, "403"),
    ],
    ids=["status", "code-only", "neither"],
)
def test_a_google_api_error_body_becomes_status_and_message(
    serve: Serve, error: dict[str, object], code: str
) -> None:
    response = fetch(serve, Reply.json({"error": error}, status=403))
    with pytest.raises(OAuthError) as caught:
        raise_for_error(response, "generateIdToken", "grant roles/iam.serviceAccountTokenCreator")
    assert (caught.value.error, caught.value.status) == (code, 403)
    assert str(caught.value) == (
        f"generateIdToken failed (403): {code}: Permission denied\n"
        "grant roles/iam.serviceAccountTokenCreator"
    )


def test_an_html_error_body_gives_http_status_and_its_first_line(serve: Serve) -> None:
    page = "\n\n<html><title>502 Bad Gateway</title>\n<body>upstream went away</body></html>\n"
    first = "<html><title>502 Bad Gateway</title>"
    response = fetch(serve, Reply.html(page, status=502))
    assert describe_error(response) == ("HTTP 502", first)
    with pytest.raises(OAuthError) as caught:
        raise_for_error(response, WHAT)
    assert (caught.value.error, caught.value.status) == ("HTTP 502", 502)
    assert str(caught.value) == f"{WHAT} failed (502): HTTP 502: {first}"
    assert "upstream" not in str(caught.value)


def test_a_long_first_line_is_cut_at_200_characters(serve: Serve) -> None:
    line = "".join(f"{i % 10}" for i in range(500))
    code, description = describe_error(fetch(serve, Reply.html(line + "\nsecond", status=500)))
    assert code == "HTTP 500"
    assert description == line[:199] + "…"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(500), ("HTTP 500", "")),
        (Reply(503, b"   \n\n  "), ("HTTP 503", "")),
        (Reply.json({"message": "nope"}, status=400), ("HTTP 400", '{"message": "nope"}')),
        (Reply.json(["a", "b"], status=400), ("HTTP 400", '["a", "b"]')),
        (Reply.json({"error": 7}, status=400), ("HTTP 400", '{"error": 7}')),
    ],
    ids=["empty", "blank", "no-error-field", "list", "error-not-string-or-object"],
)
def test_an_error_body_without_google_error_falls_back_to_the_status(
    serve: Serve, reply: Reply, expected: tuple[str, str]
) -> None:
    assert describe_error(fetch(serve, reply)) == expected


def test_an_empty_error_body_has_no_trailing_colon(serve: Serve) -> None:
    with pytest.raises(OAuthError) as caught:
        raise_for_error(fetch(serve, Reply(500)), WHAT)
    assert str(caught.value) == f"{WHAT} failed (500): HTTP 500"


# --- FLYTE_IAP_HTTP_TIMEOUT -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 10.0),
        ({"FLYTE_IAP_HTTP_TIMEOUT": "2.5"}, 2.5),
        ({"FLYTE_IAP_HTTP_TIMEOUT": " 30 "}, 30.0),
    ],
)
def test_http_timeout_reads_the_environment(env: dict[str, str], expected: float) -> None:
    assert http_timeout(env) == expected


@pytest.mark.parametrize(
    "raw", ["abc", "0", "-1", "-0", "inf", "nan", "1e400", "", "1e300", "600.5"]
)
def test_http_timeout_that_is_not_a_positive_number_is_a_usage_error(raw: str) -> None:
    with pytest.raises(UsageError) as caught:
        http_timeout({"FLYTE_IAP_HTTP_TIMEOUT": raw})
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"FLYTE_IAP_HTTP_TIMEOUT is {raw!r}: ")


def test_http_timeout_accepts_up_to_600_seconds() -> None:
    assert http_timeout({"FLYTE_IAP_HTTP_TIMEOUT": "600"}) == 600.0


@pytest.mark.parametrize("raw", ["nan", "inf", "-1", "0", "abc", "1e300"])
def test_a_bad_http_timeout_is_a_usage_error_on_the_command_line(
    run_cli: InProcessCli, emulator: Emulator, tmp_path: Path, raw: str
) -> None:
    """1e300 passed the old check and then overflowed the socket's timeout."""
    key = emulator.write_service_account_key(tmp_path / "key.json")
    result = run_cli(*sa_args(key=key), FLYTE_IAP_HTTP_TIMEOUT=raw)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"flyte-iap: FLYTE_IAP_HTTP_TIMEOUT is {raw!r}: "
        "give a number of seconds above 0 and at most 600\n"
    )
    assert emulator.count("token") == 0


# --- tries ------------------------------------------------------------------------------------
@pytest.mark.parametrize("tries", [0, -1])
def test_a_client_with_fewer_than_one_try_is_an_error(tries: int) -> None:
    with pytest.raises(
        ValueError, match=f"tries must be a whole number of at least 1, not {tries}"
    ):
        HttpClient(tries=tries)


@pytest.mark.parametrize("tries", [0, -1])
def test_a_call_with_fewer_than_one_try_is_an_error_not_the_default(
    serve: Serve, client: HttpClient, tries: int
) -> None:
    """``tries=0`` used to fall back to the client's three tries."""
    stub = serve(Reply.json({}))
    with pytest.raises(ValueError, match="tries must be a whole number of at least 1"):
        client.request("GET", stub.url, what=WHAT, tries=tries)
    assert stub.requests == []


# --- deadlines: a try, a call, a client -------------------------------------------------------
#: A head that never ends: a byte every DRIP seconds, far longer in all than any timeout here.
SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 400
DRIP = 0.05


@pytest.mark.timeout(10)  # ten times the 0.6 s it takes; per-read timeouts take 45 s
def test_a_head_that_drips_times_out_at_the_deadline_not_per_read(sleeps: list[float]) -> None:
    """Each byte comes well within the 0.3 s read timeout; the try as a whole may not
    last longer than 0.3 s all the same, so both tries give up long before the head ends."""
    client = HttpClient(timeout=0.3, tries=2, sleep=sleeps.append)
    with raw_server(drip(SLOW_HEAD, DRIP)) as server:
        with pytest.raises(TransportError) as caught:
            client.request("GET", server.url + "/token", what=WHAT)
        assert server.connections == 2
        assert server.sent < 2 * len(SLOW_HEAD), "a try waited for the whole head"
    host = server.url.removeprefix("http://")
    assert str(caught.value) == (
        f"could not reach {WHAT} at {host}: "
        "timed out (no complete answer within 0.3 s; FLYTE_IAP_HTTP_TIMEOUT)"
    )
    assert len(sleeps) == 1


@pytest.mark.timeout(10)  # ten times the 0.3 s it takes; a per-read timeout takes 21 s
def test_a_body_that_drips_times_out_at_the_deadline() -> None:
    """The head comes at once, then the body a byte at a time: the try gives up at its
    deadline, long before the body ends."""
    body = b'{"id_token": "' + b"a" * 400 + b'"}'
    head = JSON_HEAD % len(body)
    client = HttpClient(timeout=0.3, tries=1)
    with raw_server(drip(body, DRIP, first=head)) as server:
        with pytest.raises(TransportError, match=r"timed out \(no complete answer within 0\.3 s"):
            client.request("POST", server.url + "/token", what=WHAT, data={"a": "b"})
        assert server.sent < len(head) + len(body), "the try waited for the whole body"


def test_the_budget_bounds_all_the_calls_of_a_client(serve: Serve, sleeps: list[float]) -> None:
    """The budget holds the client's whole life. The first call spends 4 s of it on a
    Retry-After (counted as asked for, not slept), and its two tries whatever they took;
    with 0.5 s left, the second call's try is cut to that, under its 1 s timeout, and it
    is not retried; the third fails at once without connecting."""
    client = HttpClient(timeout=1.0, tries=2, budget=100.0, sleep=sleeps.append)
    stub = serve(Reply(503, headers={"Retry-After": "4"}))
    assert client.request("GET", stub.url, what=WHAT).status == 503
    assert sleeps == [4.0] and client.spent > 4.0
    # However long the two tries took on a loaded machine, half a second is left now.
    client.budget = client.spent + 0.5
    with raw_server(drip(SLOW_HEAD, DRIP)) as server:
        host = server.url.removeprefix("http://")
        with pytest.raises(TransportError) as second:
            client.request("GET", server.url, what=WHAT)
        assert str(second.value) == (
            f"could not reach {WHAT} at {host}: "
            f"timed out: this command's network calls used up their {client.budget:g} s"
        )
        with pytest.raises(TransportError) as third:
            client.request("GET", server.url, what=WHAT)
        assert str(third.value) == (
            f"gave up on {WHAT} at {host}: this command's network calls took more than "
            f"{client.budget:g} s in all"
        )
        assert server.connections == 1
    assert sleeps == [4.0]


def test_the_default_budget_is_what_one_call_may_take() -> None:
    assert HttpClient(timeout=2.0, tries=3).budget == 3 * 2.0 + 10.0
    assert HttpClient().budget == 40.0


@pytest.mark.parametrize("budget", [0.0, -1.0, float("inf"), float("nan")])
def test_a_budget_that_is_not_a_positive_number_is_an_error(budget: float) -> None:
    with pytest.raises(ValueError, match="budget"):
        HttpClient(budget=budget)


def test_backoff_sleeps_count_against_the_budget(serve: Serve, sleeps: list[float]) -> None:
    """Sleeps are counted as asked for (the seam does not sleep): with 5 s in all, a
    Retry-After of 4 s leaves no time for another wait of 4 s."""
    stub = serve(Reply(503, headers={"Retry-After": "4"}))
    client = HttpClient(timeout=2.0, tries=3, budget=5.0, sleep=sleeps.append)
    assert client.request("GET", stub.url, what=WHAT).status == 503
    assert sleeps == [4.0]
    assert len(stub.requests) == 2


@pytest.mark.parametrize(
    ("retry_after", "expected"), [("6", [6.0, 4.0]), ("10", [10.0])], ids=["6s", "10s"]
)
def test_the_sleeps_of_one_call_add_up_to_at_most_10_seconds(
    serve: Serve, client: HttpClient, sleeps: list[float], retry_after: str, expected: list[float]
) -> None:
    stub = serve(Reply(503, headers={"Retry-After": retry_after}))
    assert client.request("GET", stub.url, what=WHAT).status == 503
    assert sleeps == expected
    assert len(stub.requests) == len(expected) + 1


def test_many_tries_still_sleep_at_most_10_seconds_in_all(
    serve: Serve, sleeps: list[float]
) -> None:
    """Backoff 0.5, 1, 2, 4, 8 s (with jitter) for six tries: the last sleeps are cut to
    what is left of the 10 s, and once that is spent the last answer is the answer."""
    stub = serve(Reply(503))
    client = HttpClient(timeout=2.0, tries=6, sleep=sleeps.append)
    assert client.request("GET", stub.url, what=WHAT).status == 503
    assert sum(sleeps) <= 10.0
    assert 4 <= len(stub.requests) == len(sleeps) + 1 <= 6


# --- bodies: size, nesting, encoding ----------------------------------------------------------
def test_an_endless_body_stops_at_4_mib_with_a_clear_error() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    client = HttpClient(timeout=5.0, tries=3)
    with raw_server(endless(head)) as server:
        with pytest.raises(ProtocolError) as caught:
            client.request("GET", server.url + "/token", what=WHAT)
        host = server.url.removeprefix("http://")
        assert str(caught.value) == (
            f"{WHAT} at {host} answered 200 with a body over 4 MiB, which no Google "
            "endpoint sends; stopped reading"
        )
        assert server.connections == 1, "a final answer: not retried"
        # Once the answer is over (the client hung up), what was sent is all there is.
        assert server.wait_answered(1, timeout=10), "the answer never ended"
        assert server.sent < MAX_BODY + 16 * 1024 * 1024, "reading stopped near the cap"


def test_a_declared_length_over_4_mib_is_refused_before_reading(sleeps: list[float]) -> None:
    """The body never comes, so an answer that read it would be a timeout, not this."""
    head = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 300000000\r\n\r\n"
    client = HttpClient(timeout=2.0, tries=3, sleep=sleeps.append)
    with raw_server(head_then_silence(head)) as server:
        with pytest.raises(ProtocolError, match="answered 503 with a body over 4 MiB"):
            client.request("GET", server.url, what=WHAT)
        assert server.connections == 1
    assert sleeps == [], "a final answer: not retried"


def test_a_body_of_exactly_4_mib_is_read(serve: Serve) -> None:
    body = b"x" * MAX_BODY
    assert fetch(serve, Reply(200, body)).body == body


NESTED = b"[" * 100_000 + b"]" * 100_000


def test_deeply_nested_json_reads_as_not_json(serve: Serve) -> None:
    """json.loads raises RecursionError on it, which was an unexpected error."""
    response = fetch(serve, Reply(200, NESTED, {"Content-Type": "application/json"}))
    with pytest.raises(ValueError):
        response.json()
    with pytest.raises(ProtocolError) as caught:
        response.json_field("id_token", WHAT)
    assert str(caught.value) == (
        f"{WHAT} answered 200 with a body of type application/json, not a JSON object"
    )
    error = fetch(serve, Reply(400, NESTED, {"Content-Type": "application/json"}))
    assert describe_error(error) == ("HTTP 400", "[" * 199 + "…")


def test_an_uncompressed_answer_is_asked_for(serve: Serve, client: HttpClient) -> None:
    """A compressed body could inflate far past the cap before it is counted."""
    stub = serve(Reply.json({}))
    client.request("GET", stub.url, what=WHAT)
    assert stub.requests[0][2]["Accept-Encoding"] == "identity"


# --- the server's words reach the terminal made safe ------------------------------------------
FORGED = "x\x1b]0;pwned\x07\nflyte-iap: logged in as admin@corp\u202e"


@pytest.mark.parametrize(
    "reply",
    [
        Reply.json({"error": "invalid_grant", "error_description": FORGED}, status=400),
        Reply.json({"error": FORGED}, status=400),
        Reply.json({"error": {"status": FORGED, "message": FORGED}}, status=403),
        Reply.json({"error": {"code": FORGED}}, status=403),
        Reply(403, FORGED.encode() + b"\nsecond line", {"Content-Type": "text/plain"}),
    ],
    ids=["description", "error", "api-status-and-message", "api-code", "first-line"],
)
def test_an_error_body_is_shown_without_control_characters(serve: Serve, reply: Reply) -> None:
    with pytest.raises(OAuthError) as caught:
        raise_for_error(fetch(serve, reply), WHAT, "the next step")
    first, hint = str(caught.value).split("\n")
    assert hint == "the next step"
    assert first.isprintable(), repr(first)
    assert "\x1b" not in first and "\x07" not in first
    assert caught.value.error.isprintable()


def test_a_long_error_description_is_capped(serve: Serve) -> None:
    reply = Reply.json({"error": "invalid_grant", "error_description": "d" * 5000}, status=400)
    code, description = describe_error(fetch(serve, reply))
    assert (code, len(description)) == ("invalid_grant", 200)


def test_a_hostile_content_type_is_not_echoed_raw(serve: Serve) -> None:
    response = fetch(serve, Reply(200, b"<html>", {"Content-Type": "text/\x1b[2Jhtml"}))
    with pytest.raises(ProtocolError) as caught:
        response.json_object(WHAT)
    assert str(caught.value).isprintable()
    assert "\x1b" not in str(caught.value)
