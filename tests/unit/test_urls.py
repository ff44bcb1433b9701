"""The https-or-loopback rule for every URL a credential is sent to, and what a failed
call of google-auth's says instead of google-auth's words.

The rule judges the host requests will connect to (urllib3's parse), by its literal:
``localhost``, 127.0.0.0/8, ``[::1]``. Each edge case below is decided on purpose.
"""

from __future__ import annotations

import pytest
from google.auth import exceptions

from flyte_iap.errors import UsageError
from flyte_iap.google import DEFAULTS, CredentialsFile, Endpoints, check_url
from flyte_iap.google.auth_transport import GoogleAuthRequest
from flyte_iap.google.external_account import CREDENTIAL_URLS, check_credential_urls
from flyte_iap.hosts import is_loopback
from flyte_iap.transport import HttpClient

from ..stub_server import Reply, StubServer

ACCEPTED = [
    "https://x",
    "https://oauth2.googleapis.com/token",
    "https://psc.example.internal:8443/token",  # https: any host
    "https://127.evil.example/token",  # https: the name is not judged at all
    "http://127.0.0.1:8",
    "http://127.0.0.1:8/token",
    "http://127.255.255.254:8/",  # all of 127.0.0.0/8
    "http://[::1]:8",
    "http://localhost:8",
    "HTTP://LOCALHOST:8/token",  # scheme and host are case-insensitive
    "http://127.0.0.1:/token",  # an empty port is the default port, on this machine
    "http://127.0.0.1:8/token#@evil.example",  # '@' after '#': a fragment, not userinfo
    "http://127.0.0.1:8/token?next=@evil.example",  # '@' in the query, likewise
    # '@' in the path: an impersonation URL names the account there.
    "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
    "sa@p.iam.gserviceaccount.com:generateAccessToken",
]

REFUSED = [
    # Two parsers, two hosts: urlsplit saw 127.0.0.1, requests went to HOST.
    ("http://HOST\\@127.0.0.1/token", "backslash"),
    ("https://HOST\\@127.0.0.1/token", "backslash"),  # refused for https too
    ("http://127.0.0.1:8\\@127.0.0.2/token", "backslash"),
    # Names are not judged by their prefix.
    ("http://127.evil.example/", "is not allowed"),
    ("http://127.0.0.1.evil.example/", "is not allowed"),
    ("http://localhost.evil/", "is not allowed"),
    ("http://evil.localhost/", "is not allowed"),
    # Spellings that resolve to 127.0.0.1 but are not literals of it: not interpreted.
    ("http://0x7f000001/", "is not allowed"),
    ("http://2130706433/", "is not allowed"),
    ("http://127.1/", "is not allowed"),
    ("http://0177.0.0.1/", "is not allowed"),
    ("http://localhost./", "is not allowed"),  # a trailing dot is another DNS name
    ("http://127.0.0.1./", "is not allowed"),
    ("http://[::ffff:127.0.0.1]/", "is not allowed"),  # IPv4-mapped: ::1 only
    ("http://[::1%25lo]:8/", "not a valid URL"),  # a zone
    ("http://0.0.0.0:8/", "is not allowed"),
    ("http://10.0.0.1/", "is not allowed"),
    ("http://169.254.169.254/", "is not allowed"),
    ("http://example.com/token", "is not allowed"),
    # User names and passwords: never, even to this machine.
    ("http://user:pw@127.0.0.1/token", "user name or password"),
    ("https://user@oauth2.googleapis.com/token", "user name or password"),
    ("http://@127.0.0.1/token", "user name or password"),
    ("http://127.0.0.1%2f@evil.example/", "user name or password"),
    # Whitespace, controls, non-ASCII.
    ("http://127.0.0.1 /token", "space"),
    (" http://127.0.0.1/token", "space"),
    ("http://127.0.0.1/to\tken", "space"),
    ("http://127.0.0.1/token\n", "space"),
    ("http://127.0.0.1/\x1b[31m", "control"),
    ("https://bücher.example/", "non-ASCII"),
    # Not an http(s) URL with a host.
    ("ftp://127.0.0.1/", "not an http:// or https:// URL"),
    ("file:///etc/passwd", "not an http:// or https:// URL"),
    ("javascript:alert(1)", "not an http:// or https:// URL"),
    ("//127.0.0.1/token", "not an http:// or https:// URL"),
    ("127.0.0.1:8/token", "not an http:// or https:// URL"),
    ("http:127.0.0.1/token", "not an http:// or https:// URL"),
    ("http:/127.0.0.1/token", "not an http:// or https:// URL"),
    ("", "not an http:// or https:// URL"),
    ("https://", "no host"),
    ("https:///token", "no host"),
    ("http://127.0.0.1:99999/", "not a valid URL"),
    ("http://[127.0.0.1]/", "not a valid URL"),
    ("http://::1/", "not a valid URL"),  # IPv6 must be bracketed
    ("https://ex%41mple.com/", "not a valid URL"),
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_https_and_loopback_http_are_accepted_as_given(url: str) -> None:
    assert check_url(url, source="FLYTE_IAP_TOKEN_URI") == url


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_everything_else_is_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_url(url, source="FLYTE_IAP_TOKEN_URI")
    message = str(caught.value)
    assert message.startswith("FLYTE_IAP_TOKEN_URI")
    assert reason in message
    assert "use an https:// URL" in message
    assert "\n" not in message and "\x1b" not in message and "\t" not in message
    assert caught.value.exit_code == 2


def test_a_password_in_a_url_is_not_repeated() -> None:
    with pytest.raises(UsageError) as caught:
        check_url("https://me:hunter2@oauth2.googleapis.com/token", source="token_uri in k.json")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("[::1]", True),
        ("[0:0:0:0:0:0:0:1]", True),
        ("::1", False),  # urllib3 gives IPv6 in brackets; bare is not a host it connects to
        ("127.evil.example", False),
        ("127.0.0.1.", False),
        ("localhost.", False),
        ("127.1", False),
        ("2130706433", False),
        ("[::ffff:127.0.0.1]", False),
        ("[::1%lo]", False),
        ("128.0.0.1", False),
        ("", False),
    ],
)
def test_is_loopback_judges_the_literal(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


BYPASSES = ["http://HOST\\@127.0.0.1/token", "http://127.evil.example/", "http://u:p@127.0.0.1/"]


@pytest.mark.parametrize("name", list(DEFAULTS))
@pytest.mark.parametrize("url", BYPASSES)
def test_every_endpoint_variable_is_held_to_the_rule(name: str, url: str) -> None:
    with pytest.raises(UsageError, match=name):
        Endpoints.from_env({name: url})


def test_the_defaults_are_googles_production_endpoints() -> None:
    """Written out here as the product contract gives them, not read back from the table
    they come from: a typo in a default must fail this test."""
    endpoints = Endpoints.from_env({})
    assert {
        "auth": endpoints.auth_uri,
        "token": endpoints.token_uri,
        "secret_manager": endpoints.secret_manager_uri,
        "iam_credentials": endpoints.iam_credentials_uri,
        "revoke": endpoints.revoke_uri,
        "certs": endpoints.certs_uri,
        "metadata": endpoints.metadata_root,
    } == {
        "auth": "https://accounts.google.com/o/oauth2/v2/auth",
        "token": "https://oauth2.googleapis.com/token",
        "secret_manager": "https://secretmanager.googleapis.com",
        "iam_credentials": "https://iamcredentials.googleapis.com",
        "revoke": "https://oauth2.googleapis.com/revoke",
        "certs": "https://www.googleapis.com/oauth2/v1/certs",
        "metadata": "http://metadata.google.internal/computeMetadata/v1",
    }
    assert sorted(DEFAULTS) == sorted(
        f"FLYTE_IAP_{name}_URI"
        for name in ("AUTH", "TOKEN", "SECRET_MANAGER", "IAM_CREDENTIALS", "REVOKE", "CERTS")
    )


def test_each_variable_overrides_its_endpoint() -> None:
    local = {name: f"http://127.0.0.1:8123/{name}" for name in DEFAULTS}
    endpoints = Endpoints.from_env({**local, "GCE_METADATA_HOST": "127.0.0.1:8124"})
    assert endpoints.iam_credentials_uri == "http://127.0.0.1:8123/FLYTE_IAP_IAM_CREDENTIALS_URI"
    assert endpoints.auth_uri == "http://127.0.0.1:8123/FLYTE_IAP_AUTH_URI"
    assert endpoints.token_uri == "http://127.0.0.1:8123/FLYTE_IAP_TOKEN_URI"
    assert endpoints.secret_manager_uri == "http://127.0.0.1:8123/FLYTE_IAP_SECRET_MANAGER_URI"
    assert endpoints.revoke_uri == "http://127.0.0.1:8123/FLYTE_IAP_REVOKE_URI"
    assert endpoints.certs_uri == "http://127.0.0.1:8123/FLYTE_IAP_CERTS_URI"
    assert endpoints.metadata_root == "http://127.0.0.1:8124/computeMetadata/v1"


# --- an external_account file's URLs ------------------------------------------------------
def _federation(**fields: object) -> CredentialsFile:
    info = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {"file": "/run/token"},
        **fields,
    }
    return CredentialsFile("/ci/wif.json", "GOOGLE_APPLICATION_CREDENTIALS", info)


@pytest.mark.parametrize("key", CREDENTIAL_URLS)
@pytest.mark.parametrize("url", [*BYPASSES, "http://sts.example.com/v1/token", "sts"])
def test_each_url_google_auth_sends_a_credential_to_is_checked(key: str, url: str) -> None:
    with pytest.raises(UsageError, match=f"^{key} in /ci/wif.json"):
        check_credential_urls(_federation(**{key: url}))


@pytest.mark.parametrize("key", CREDENTIAL_URLS)
def test_a_url_that_is_not_a_string_is_refused(key: str) -> None:
    with pytest.raises(UsageError, match=f"{key} in .* is not a string"):
        check_credential_urls(_federation(**{key: ["https://sts.googleapis.com"]}))


def test_a_good_federation_file_and_its_metadata_server_source_pass() -> None:
    # Azure's and AWS's metadata servers are plain http on link-local addresses: the
    # subject token comes from there, and nothing of ours is sent, so they are not
    # held to the rule.
    check_credential_urls(
        _federation(
            service_account_impersonation_url="https://iamcredentials.googleapis.com/v1/"
            "projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
            token_info_url="https://sts.googleapis.com/v1/introspect",
            credential_source={
                "url": "http://169.254.169.254/metadata/identity/oauth2/token",
                "headers": {"Metadata": "True"},
            },
        )
    )
    check_credential_urls(_federation(token_url="http://127.0.0.1:9/sts/v1/token"))


# --- what a failed call says -----------------------------------------------------------------
TOKEN = "ya29.a-token-the-server-echoes"


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (
            Reply.json({"error": "invalid_grant", "error_description": TOKEN}, 400),
            "400 (invalid_grant)",
        ),
        (
            Reply.json(
                {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": TOKEN}}, 403
            ),
            "403 (PERMISSION_DENIED)",
        ),
        (Reply.json({"error": TOKEN}, 401), "401"),  # not a code: a token, maybe
        (Reply.json({"error": "\x1b]0;pwned\x07"}, 401), "401"),
        (Reply(404, TOKEN.encode()), "404"),
        (Reply(200, b"<html>captive portal</html>"), "200 with something google-auth could not"),
    ],
)
def test_a_call_is_described_by_status_and_code_never_by_body(reply: Reply, said: str) -> None:
    with StubServer(reply) as stub:
        request = GoogleAuthRequest(HttpClient(tries=1), "federation", {stub.url + "/sts": "STS"})
        assert request.failure() is None
        request(stub.url + "/sts", method="POST", body=b"subject_token=x")
    failure = request.failure()
    assert failure is not None
    assert failure.startswith(f"STS at {stub.url.removeprefix('http://')} answered {said}")
    assert TOKEN not in failure and "\x1b" not in failure
    if "(" not in said:
        assert "(" not in failure
    assert request.refused_by == (None if reply.status == 200 else "STS")


def test_an_unreachable_url_is_described_in_our_own_words() -> None:
    request = GoogleAuthRequest(HttpClient(tries=1), "federation", {})
    with pytest.raises(exceptions.TransportError):
        request("http://127.0.0.1:9/sts", method="POST")
    assert request.failure() == "could not reach federation at 127.0.0.1:9: connection refused"
