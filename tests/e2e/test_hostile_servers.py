"""The installed CLI against token endpoints that fight back (issue 8, items 12-14): one that
drips its answer, one whose body never ends, one that answers 200 with a page or deeply
nested JSON, one that writes terminal escapes and a forged line into its error. Each run
ends in bounded time with one or two clean lines on stderr.

The key file is the emulator's, with ``token_uri`` pointed at the hostile server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flyte_iap.emulator import Emulator

from ..cli import Cli, assert_clean_failure
from ..raw_servers import JSON_HEAD, drip, endless, raw_server
from ..stub_server import Reply, StubServer
from ..tokens import sa_args


def key_for(emulator: Emulator, tmp_path: Path, token_uri: str) -> Path:
    """A service-account key file of the emulator's whose token endpoint is ``token_uri``."""
    path = emulator.write_service_account_key(tmp_path / "key.json")
    info = json.loads(path.read_text())
    info["token_uri"] = token_uri
    path.write_text(json.dumps(info))
    return path


# --- untrusted text (item 14) -----------------------------------------------------------------
FORGED = "x\x1b]0;pwned\x07\nflyte-iap: logged in as admin@corp"


@pytest.mark.parametrize(
    "reply",
    [
        Reply.json({"error": "invalid_grant", "error_description": FORGED}, status=400),
        Reply.json({"error": FORGED}, status=400),
        Reply.json({"error": {"status": FORGED, "message": FORGED}}, status=403),
        Reply(403, FORGED.encode(), {"Content-Type": "text/plain"}),
    ],
    ids=["error_description", "error", "google-api-error", "first-line-of-body"],
)
def test_a_forged_line_in_an_error_answer_never_reaches_the_terminal(
    cli: Cli, emulator: Emulator, tmp_path: Path, reply: Reply
) -> None:
    with StubServer(reply) as stub:
        result = cli(*sa_args(key=key_for(emulator, tmp_path, stub.url + "/token")))
    assert_clean_failure(result, "signing in as", "failed (40")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert all(line.isprintable() for line in result.stderr.splitlines()), result.stderr
    forged = [line for line in result.stderr.splitlines() if line.startswith("flyte-iap: logged")]
    assert forged == [], result.stderr


# --- deadlines (item 12) ----------------------------------------------------------------------
BODY = b'{"id_token": "' + b"a" * 200 + b'"}'


@pytest.mark.parametrize(
    "answer",
    [
        drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 200, 0.3),
        drip(BODY, 0.3, first=JSON_HEAD % len(BODY)),
    ],
    ids=["head-drips", "body-drips"],
)
@pytest.mark.timeout(60)  # a hang guard: 3 tries x 1 s + backoff; a try lasted a minute
def test_a_dripping_token_endpoint_fails_within_tries_times_the_timeout(
    cli: Cli, emulator: Emulator, tmp_path: Path, answer: object
) -> None:
    """A byte every 0.3 s never trips a 1 s read timeout; before the deadline each try
    lasted as long as the drip (over a minute). Now each try ends at its 1 s deadline."""
    with raw_server(answer, lifetime=60) as server:  # type: ignore[arg-type]
        key = key_for(emulator, tmp_path, server.url + "/token")
        result = cli(*sa_args(key=key), FLYTE_IAP_HTTP_TIMEOUT="1", timeout=60)
        assert server.connections == 3
    assert_clean_failure(
        result,
        "could not reach the token endpoint at 127.0.0.1:",
        "timed out (no complete answer within 1 s; FLYTE_IAP_HTTP_TIMEOUT)",
    )


# --- bodies (item 13) -------------------------------------------------------------------------
def test_an_endless_body_is_cut_at_4_mib(cli: Cli, emulator: Emulator, tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    with raw_server(endless(head)) as server:
        key = key_for(emulator, tmp_path, server.url + "/token")
        result = cli(*sa_args(key=key), timeout=30)
    assert_clean_failure(
        result, "the token endpoint at 127.0.0.1:", "answered 200 with a body over 4 MiB"
    )


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply.html("<html><body>Hotel WiFi: sign in</body></html>"), "text/html"),
        (Reply(200), "an empty body"),
        (
            Reply(200, b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"}),
            "application/json",
        ),
    ],
    ids=["captive-portal", "empty", "nested-json"],
)
def test_a_200_that_is_not_json_is_a_clear_line(
    cli: Cli, emulator: Emulator, tmp_path: Path, reply: Reply, kind: str
) -> None:
    with StubServer(reply) as stub:
        result = cli(*sa_args(key=key_for(emulator, tmp_path, stub.url + "/token")))
    assert_clean_failure(result, "answered 200 with", kind, "not a JSON object")
    assert "unexpected error" not in result.stderr
    assert "WiFi" not in result.stderr
