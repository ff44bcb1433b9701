"""The metadata server: its plain-text answers (a 200 that is a page, not an account's
email, is a ProtocolError line, never taken as the account's name), and how little time
the default one gets when nobody named it (a laptop, a CI runner: no metadata server),
and what a person is told then when Secret Manager needs credentials."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_iap.errors import CredentialsError, ProtocolError
from flyte_iap.google import Endpoints, MetadataServer, read_secret
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


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An address whose connections never complete: a listening socket whose one-place
    accept queue is already full, so the kernel leaves every further SYN unanswered."""
    with socket.socket() as server, socket.socket() as filler:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        filler.connect(server.getsockname())
        yield f"127.0.0.1:{server.getsockname()[1]}"


# Ten times the one second the default metadata server gets. Without that bound, the one
# try would wait out the whole 60 s timeout of the client below and fail this guard.
@pytest.mark.timeout(10)
def test_an_unnamed_metadata_server_gets_one_try_of_one_second(black_hole: str) -> None:
    """With GCE_METADATA_HOST unset, a metadata server that does not answer means "not on
    GCP": one try, its connection given one second, then the message saying what to pass."""
    tries: list[str] = []
    endpoints = Endpoints.from_env({})
    assert (endpoints.metadata_host, endpoints.metadata_host_explicit) == (
        "metadata.google.internal",
        False,
    )
    # The same settings, with the default host standing where it can be watched.
    here = Endpoints.from_env({"GCE_METADATA_HOST": black_hole})
    here.metadata_host_explicit = False
    client = HttpClient(timeout=60.0, tries=3, debug=tries.append, sleep=lambda s: None)
    with pytest.raises(CredentialsError) as caught:
        MetadataServer(here, client).email()
    assert str(caught.value).startswith("no Google credentials found")
    assert "--service_account_key" in str(caught.value)
    assert [line.endswith("(the email endpoint), try 1/1)") for line in tries] == [True]


def test_a_named_metadata_server_gets_every_try(black_hole: str) -> None:
    """GCE_METADATA_HOST set: the user said there is one, so a refusal is an error naming
    it, after the client's usual tries."""
    tries: list[str] = []
    client = HttpClient(timeout=2.0, tries=2, debug=tries.append, sleep=lambda s: None)
    endpoints = Endpoints.from_env({"GCE_METADATA_HOST": "127.0.0.1:9"})  # refuses at once
    with pytest.raises(CredentialsError) as caught:
        MetadataServer(endpoints, client).email()
    assert "GCE_METADATA_HOST=127.0.0.1:9" in str(caught.value)
    assert sum(line.startswith("GET") for line in tries) == 2


@pytest.mark.timeout(10)
def test_no_credentials_for_secret_manager_says_to_log_in_with_gcloud(
    black_hole: str, tmp_path: Path
) -> None:
    """No key, no gcloud ADC, no metadata server: reading the desktop client's secret says
    to run `gcloud auth application-default login`, and Secret Manager is never asked."""
    with StubServer(Reply.json({"payload": {"data": "c2VjcmV0"}})) as secret_manager:
        env = {"CLOUDSDK_CONFIG": str(tmp_path), "FLYTE_IAP_SECRET_MANAGER_URI": secret_manager.url}
        here = Endpoints.from_env({**env, "GCE_METADATA_HOST": black_hole})
        here.metadata_host_explicit = False  # the default host, where nothing answers
        with pytest.raises(CredentialsError) as caught:
            read_secret("project", "secret", env, here, HttpClient(timeout=60.0, tries=3))
        assert secret_manager.requests == []
    assert "gcloud auth application-default login" in str(caught.value)
    assert "--desktop_client_secret" in str(caught.value)
