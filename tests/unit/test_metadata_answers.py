"""The metadata server's plain-text answers (issue 8, item 13): a 200 that is a page, not
an account's email, is a ProtocolError line, never taken as the account's name."""

from __future__ import annotations

import pytest

from flyte_iap.errors import ProtocolError
from flyte_iap.google import Endpoints, MetadataServer
from flyte_iap.transport import HttpClient

from ..stub_server import Reply, StubServer

EMAIL = "node-sa@my-project.iam.gserviceaccount.com"


def email_from(reply: Reply) -> str:
    with StubServer(reply) as stub:
        host = stub.url.removeprefix("http://")
        endpoints = Endpoints.from_env({"GCE_METADATA_HOST": host})
        return MetadataServer(endpoints, HttpClient(timeout=2.0, tries=1)).email()


def test_the_email_endpoint_answer_is_the_account() -> None:
    assert email_from(Reply(200, EMAIL.encode() + b"\n", {"Content-Type": "text/plain"})) == EMAIL


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply.html("<html><body>Sign in to the hotel WiFi @ lobby</body></html>"), "text/html"),
        (Reply(200), "an empty body"),
        (Reply(200, b"a@b\nflyte-iap: logged in as admin@corp", {}), "no declared type"),
        (Reply(200, b"a@b\x1b]0;x\x07", {"Content-Type": "text/plain"}), "text/plain"),
        (Reply(200, b"a@" + b"b" * 300, {"Content-Type": "text/plain"}), "text/plain"),
    ],
    ids=["captive-portal", "empty", "two-lines", "escapes", "too-long"],
)
def test_an_answer_that_is_not_an_email_is_a_protocol_error(reply: Reply, kind: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        email_from(reply)
    message = str(caught.value)
    assert message.startswith("the metadata server at 127.0.0.1:")
    assert message.endswith(", not a service-account email")
    assert kind in message
    assert "WiFi" not in message and "admin@corp" not in message
